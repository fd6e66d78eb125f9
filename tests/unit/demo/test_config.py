"""The demo's own settings: typed, checked, and named when wrong."""

import pytest
from demo import config

from flaskobs.settings import ConfigError


def load(**env):
    return config.from_env(env, "/tmp/instance")


def test_production_never_makes_up_a_key_or_debugs():
    cfg = load(FLASK_DEBUG="1")
    assert cfg["SECRET_KEY"] is None  # flaskobs then refuses to serve (tests/unit/test_extension.py)
    assert cfg["DEBUG"] is False
    assert cfg["DATABASE_URL"] == "sqlite:////tmp/instance/app.db"


def test_development_makes_a_throwaway_key():
    cfg = load(APP_ENV="development", FLASK_DEBUG="1")
    assert len(cfg["SECRET_KEY"]) >= 32 and cfg["DEBUG"] is True


@pytest.mark.parametrize(("env", "message"), [
    ({"MAX_CONTENT_LENGTH": "big"}, "MAX_CONTENT_LENGTH='big' is not a whole number"),
    ({"SESSION_COOKIE_SECURE": "maybe"}, "SESSION_COOKIE_SECURE='maybe' is not a boolean"),
    ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a valid SQLAlchemy URL"),
    ({"DATABASE_URL": "nosuchdb://u@h/db"}, "DATABASE_URL names a database this image cannot use"),
    ({"DATABASE_URL": "postgresql+psycopg://u@h/db"}, "DATABASE_URL names a database this image cannot use"),
])
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigError) as caught:
        load(APP_ENV="test", **env)
    assert message in str(caught.value)
