"""The bookshelf example (examples/bookshelf, package `app`): HTML pages and error pages kept,
its database timed and checked for readiness, every error counted; flaskobs added one line."""

import importlib
import json
import re
import secrets
import sys

import pytest
from support.docker import ROOT

import flaskobs


@pytest.fixture
def make_shelf(environment, tmp_path, monkeypatch):
    """Import the example's package `app` from its folder, as Gunicorn would there."""
    monkeypatch.syspath_prepend(str(ROOT / "examples/bookshelf"))
    for name in [m for m in sys.modules if m == "app" or m.startswith("app.")]:
        monkeypatch.delitem(sys.modules, name)
    package = importlib.import_module("app")
    assert package.__file__.startswith(str(ROOT / "examples/bookshelf"))

    def make(**env):
        environment(DATABASE_URL=f"sqlite:///{tmp_path}/shelf.db", SECRET_KEY=secrets.token_urlsafe(48),
                    **env)
        return package.create_app()
    yield make
    for name in [m for m in sys.modules if m == "app" or m.startswith("app.")]:
        sys.modules.pop(name, None)


def add_book(client, title="Dune", author="Herbert"):
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    return client.post("/books", data={"csrf": token, "title": title, "author": author},
                       headers={"X-Request-ID": "shelf-1"})


def sample(app, name, **labels):
    return flaskobs.state(app).metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_book_is_added_logged_and_its_queries_timed(capsys, make_shelf):
    app = make_shelf()
    client = app.test_client()
    response = add_book(client)
    assert response.status_code == 303 and response.headers["Location"] == "/books/1"
    assert "Dune" in client.get("/books/1").get_data(as_text=True)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    added = next(line for line in logged if line["message"] == "book added")
    assert added["logger"] == "app.views" and added["request_id"] == "shelf-1" and added["book_id"] == 1
    assert sample(app, "flask_db_query_duration_seconds_count", operation="insert") == 1
    assert sample(app, "flask_http_request_total", method="POST", status="303") == 1


def test_errors_are_its_own_html_pages_and_are_counted(make_shelf):
    app = make_shelf()

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    client = app.test_client()
    for path, status in (("/books/999", 404), ("/nope", 404), (f"/books/{2**63}", 404), ("/boom", 500)):
        response = client.get(path)
        assert response.status_code == status and response.mimetype == "text/html", path
        assert f"<h1 class=\"error\">{status}" in response.get_data(as_text=True)
    assert client.post("/books", data={"title": "x", "author": "y"}).status_code == 400  # no CSRF token
    assert sample(app, "flask_http_request_exceptions_total", method="GET", status="500") == 1


def test_readiness_checks_its_database(make_shelf):
    client = make_shelf().test_client()
    assert client.get("/readyz").json == {"status": "ready", "checks": {"database": "ok"}}
