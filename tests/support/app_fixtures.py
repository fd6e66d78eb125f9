"""App fixtures: app -> client, each with its own database file and metrics registry."""

import pytest

from app import create_app


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    # The unit tier is single-process: no multiprocess metrics, no Logstash.
    for var in ("PROMETHEUS_MULTIPROC_DIR", "LOGSTASH_HOST", "SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)

    def make(**overrides):
        config = {"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
                  "LOG_QUEUE_DIR": str(tmp_path / "queue")}
        config.update(overrides)
        return create_app(config)

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()

