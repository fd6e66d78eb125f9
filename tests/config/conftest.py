"""The config tier checks the apps' log fields against the Elasticsearch template."""

from support.app_fixtures import environment, make_app, make_tiny  # noqa: F401
