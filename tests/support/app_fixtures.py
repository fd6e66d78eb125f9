"""App fixtures for the unit tier: the tiny app (the package's tests) and the demo (its own
tests), each with its own database file and metrics registry, configured through the same
environment variables the container reads."""

import pytest

# Settings of flaskobs and of the apps that a developer's shell may hold: none leak into a test.
_ISOLATED = ("PROMETHEUS_MULTIPROC_DIR", "LOGSTASH_HOST", "LOGSTASH_HOST_FILE", "SECRET_KEY", "DATABASE_URL",
             "APP_ENV", "METRICS_ENABLED", "LOG_LEVEL", "SERVICE_NAME", "APP_VERSION", "PROXY_FIX_X_FOR",
             "PROXY_FIX_X_PROTO", "PROXY_FIX_X_HOST", "PROXY_FIX_X_PREFIX", "FORWARDED_ALLOW_IPS", "JSON_ERRORS",
             "JSON_MAX_DEPTH", "LOG_QUEUE_DIR")


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """Set environment variables for the app about to be made (strings, as in .env)."""
    for var in _ISOLATED:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("LOG_QUEUE_DIR", str(tmp_path / "queue"))

    def set_env(**env):
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
    return set_env


@pytest.fixture
def make_tiny(environment):
    from support.tinyapp import create_app

    def make(options: dict | None = None, **env):
        environment(**env)
        return create_app(**(options or {}))
    return make


@pytest.fixture
def tiny(make_tiny):
    return make_tiny()


@pytest.fixture
def make_app(environment, tmp_path):
    """The demo app."""
    from demo import create_app

    def make(**env):
        environment(DATABASE_URL=f"sqlite:///{tmp_path}/app.db", **env)
        return create_app()
    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
