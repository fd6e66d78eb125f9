"""Any app under flaskobs-serve, from its own folder: the demo, and the bookshelf example
(Flask-SQLAlchemy, HTML pages, a package called `app`). Requests are counted exactly, the app's
lines carry the request id, and an app that never called flaskobs.init_app still gets it. Under
both servers."""

import json
import uuid

import pytest
import requests
from support.apps import APPS, AppUnderTest
from support.uwsgi import servers
from support.waiting import wait_until


@pytest.mark.parametrize("kind", servers())
@pytest.mark.parametrize("app", APPS, ids=lambda a: a.name)
def test_requests_are_counted_and_logged_with_their_id(tmp_path, app: AppUnderTest, kind):
    with kind(tmp_path, app.module, cwd=app.directory, DATABASE_URL=f"sqlite:///{tmp_path}/{app.name}.db",
                  GUNICORN_WORKERS=2) as server:
        ids = [f"any-{uuid.uuid4().hex}" for _ in range(6)]
        with requests.Session() as session:
            for request_id in ids:
                assert app.create(server.url, request_id, session) == app.created_status
            for path in app.routes.values():
                session.get(server.url + path, timeout=10)
        assert requests.get(server.url + "/readyz", timeout=5).json() == {"status": "ready",
                                                                           "checks": {"database": "ok"}}
        text = server.scrape()
        created = server.value(rf'flask_http_request_total\{{method="POST",status="{app.created_status}"\}}', text)
        assert created == len(ids)
        for rule in app.routes:
            assert server.value(rf'flask_http_request_duration_seconds_count\{{method="GET",status="\d+",'
                                rf'url_rule="{rule}"\}}', text) >= 1, rule
        assert server.value(r'flask_db_query_duration_seconds_count\{operation="insert"\}', text) == len(ids)

        def lines() -> list[dict]:
            found = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
            return [line for line in found
                    if line.get("request_id") in set(ids) and line["logger"] == app.created_logger]
        wait_until(lambda: len(lines()) == len(ids), 5, f"a {app.created_logger} line per request")


@pytest.mark.parametrize("kind", servers())
def test_an_app_without_init_app_gets_it_from_the_loader(tmp_path, kind):
    with kind(tmp_path, "support.tinyapp:create_app_without_flaskobs()") as server:
        response = requests.get(server.url + "/hello", headers={"X-Request-ID": "loader-1"}, timeout=5)
        assert response.headers["X-Request-ID"] == "loader-1"
        assert requests.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
        assert server.value(r'flask_http_request_total\{method="GET",status="200"\}') == 1
        assert "does not call flaskobs.init_app(app); set up here with the defaults" in server.output()
