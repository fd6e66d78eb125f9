"""An app module whose import fails: a dependency it needs is not installed (test fixture)."""

import not_installed_anywhere  # noqa: F401

app = None
