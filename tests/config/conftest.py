"""The config tier checks the app's log fields against the Elasticsearch template."""

from support.app_fixtures import make_app  # noqa: F401
