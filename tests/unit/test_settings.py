"""flaskobs's settings: typed, checked, named when wrong, one default each."""

import pytest

from flaskobs import settings
from flaskobs.settings import ConfigError


def test_defaults_come_from_the_one_table():
    cfg = settings.load({}, instance_path="/srv/x/instance")
    assert cfg.app_env == "production" and cfg.production
    assert cfg.metrics_enabled is True and cfg.logstash_host == "" and cfg.json_errors is False
    assert cfg.log_queue_dir == "/srv/x/instance/log-queue"  # next to the app's instance files
    assert cfg.static_fields() == {"service": "flask-app", "environment": "production", "version": "dev"}


@pytest.mark.parametrize(("env", "message"), [
    ({"APP_ENV": "staging"}, "APP_ENV='staging' is not allowed; allowed: production, development, test"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' is not allowed; allowed: DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ({"PROXY_FIX_X_FOR": "-1"}, "PROXY_FIX_X_FOR=-1 is out of range; allowed: 0..10"),
    ({"PROXY_FIX_X_HOST": "one"}, "PROXY_FIX_X_HOST='one' is not a whole number; allowed: 0..10"),
    ({"LOGSTASH_PORT": "70000"}, "LOGSTASH_PORT=70000 is out of range; allowed: 1..65535"),
    ({"METRICS_ENABLED": "maybe"}, "METRICS_ENABLED='maybe' is not a boolean"),
    ({"READINESS_TIMEOUT": "soon"}, "READINESS_TIMEOUT='soon' is not a number; allowed: 0.1..60"),
    ({"READINESS_TIMEOUT": "nan"}, "READINESS_TIMEOUT=nan is out of range"),
    ({"LOG_QUEUE_MAX_EVENTS": "5"}, "LOG_QUEUE_MAX_EVENTS=5 is out of range; allowed: 100..100000000"),
    ({"FORWARDED_ALLOW_IPS": "10.0.0.0/8,nginx"},
     "FORWARDED_ALLOW_IPS='10.0.0.0/8,nginx': 'nginx' is not an IP address or network; allowed: addresses"),
    ({"LOGSTASH_HOST_FILE": "/nonexistent/x"}, "LOGSTASH_HOST_FILE='/nonexistent/x' cannot be read"),
])
def test_bad_values_name_the_variable_and_what_is_allowed(env, message):
    with pytest.raises(ConfigError) as caught:
        settings.load(env)
    assert message in str(caught.value)


def test_options_win_over_the_environment_and_are_checked_the_same_way():
    cfg = settings.load({"LOG_LEVEL": "DEBUG", "JSON_ERRORS": "false"}, {"log_level": "warning", "json_errors": True})
    assert cfg.log_level == "WARNING" and cfg.json_errors is True
    with pytest.raises(ConfigError, match="LOG_LEVEL='LOUD' is not allowed"):
        settings.load({}, {"log_level": "LOUD"})
    with pytest.raises(TypeError, match=r"unknown flaskobs option.*jsonerrors.*allowed: app_env"):
        settings.load({}, {"jsonerrors": True})


def test_a_setting_can_come_from_a_file(tmp_path):
    (tmp_path / "host").write_text("logstash\n")
    assert settings.load({"LOGSTASH_HOST_FILE": str(tmp_path / "host")}).logstash_host == "logstash"
    (tmp_path / "empty").write_text("")
    assert settings.load({"LOGSTASH_HOST_FILE": str(tmp_path / "empty")}).logstash_host == ""
    # The variable itself wins over its file.
    assert settings.load({"LOGSTASH_HOST": "elk", "LOGSTASH_HOST_FILE": str(tmp_path / "host")}).logstash_host == "elk"


def test_identity_is_what_every_log_line_carries():
    assert settings.identity({"SERVICE_NAME": "shop", "APP_ENV": "development"}) == {
        "service": "shop", "environment": "development", "version": "dev"}
