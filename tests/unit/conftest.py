"""Unit fixtures come from support.app_fixtures (shared with the config tier)."""

from support.app_fixtures import app, client, make_app  # noqa: F401
