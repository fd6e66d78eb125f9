"""Unit fixtures come from support.app_fixtures (shared with the config tier)."""

from support.app_fixtures import app, client, environment, make_app, make_tiny, tiny  # noqa: F401
