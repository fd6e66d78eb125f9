"""Settings from the environment: typed, checked, and named when wrong."""

import pytest

from app import config
from app.config import ConfigError

STRONG = "k3J9-xq2_VbN8mZr4TtYwLp0sQe7HfGu5AaDcE1"


def load(**env):
    return config.load(env, instance_path="/tmp/instance")


def test_production_refuses_to_start_without_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load(APP_ENV="production")


@pytest.mark.parametrize("key", ["changeme", "short", "a" * 40, "abababababababababababababababab12"])
def test_production_refuses_a_weak_secret_key(key):
    with pytest.raises(ConfigError, match="SECRET_KEY is too weak"):
        load(APP_ENV="production", SECRET_KEY=key)


def test_production_defaults():
    cfg = load(SECRET_KEY=STRONG, FLASK_DEBUG="1")
    assert cfg["APP_ENV"] == "production"
    assert cfg["DEBUG"] is False  # never in production, whatever FLASK_DEBUG says
    assert cfg["SECRET_KEY"] == STRONG
    assert cfg["DATABASE_URL"] == "sqlite:////tmp/instance/app.db"


def test_development_makes_a_throwaway_key():
    cfg = load(APP_ENV="development")
    assert len(cfg["SECRET_KEY"]) >= config.MIN_SECRET_LENGTH


@pytest.mark.parametrize(("env", "message"), [
    ({"APP_ENV": "staging"}, "APP_ENV='staging' is not allowed; allowed: production, development, test"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' is not allowed; allowed: DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ({"MAX_CONTENT_LENGTH": "big"}, "MAX_CONTENT_LENGTH='big' is not a whole number"),
    ({"PROXY_FIX_X_FOR": "-1"}, "PROXY_FIX_X_FOR=-1 is out of range; allowed: 0..10"),
    ({"LOGSTASH_PORT": "70000"}, "LOGSTASH_PORT=70000 is out of range; allowed: 1..65535"),
    ({"SESSION_COOKIE_SECURE": "maybe"}, "SESSION_COOKIE_SECURE='maybe' is not a boolean"),
    ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a valid SQLAlchemy URL"),
    ({"DATABASE_URL": "nosuchdb://u@h/db"}, "DATABASE_URL names a database this image cannot use"),
    ({"DATABASE_URL": "postgresql+psycopg://u@h/db"}, "DATABASE_URL names a database this image cannot use"),
])
def test_bad_values_name_the_variable_and_what_is_allowed(env, message):
    with pytest.raises(ConfigError) as caught:
        load(**{"APP_ENV": "test", **env})
    assert message in str(caught.value)


@pytest.mark.parametrize(("value", "ok"), [
    ("abc123", True), ("0f8fad5b-d9cb-469f-a165-70867728950e", True), ("a" * 128, True),
    ("a" * 129, False), ("", False), ("bad id", False), ("x\r\ny", False), ("ü", False),
])
def test_request_id_format(value, ok):
    assert config.valid_request_id(value) is ok
