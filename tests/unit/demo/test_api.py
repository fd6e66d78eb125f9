"""The JSON API: happy paths, and a 4xx JSON answer for every kind of bad input."""

import json

import pytest
from demo import db as demo_db
from support.checks import assert_json_error
from werkzeug.exceptions import TooManyRequests


def create(client, **body):
    return client.post("/api/items", json=body)


def test_create_get_list_delete(client):
    created = create(client, name="  tea ", price=2.5)
    assert created.status_code == 201
    item = created.get_json()
    assert item["name"] == "tea" and item["price"] == 2.5
    assert created.headers["Location"].endswith(f"/api/items/{item['id']}")
    assert item["created_at"].endswith("Z")

    assert client.get(f"/api/items/{item['id']}").get_json()["name"] == "tea"
    listing = client.get("/api/items?limit=10&offset=0").get_json()
    assert listing["total"] == 1 and [i["id"] for i in listing["items"]] == [item["id"]]

    assert client.delete(f"/api/items/{item['id']}").status_code == 204
    assert_json_error(client.get(f"/api/items/{item['id']}"), 404)


def test_hello(client):
    assert client.get("/api/hello").get_json() == {"message": "hello"}


@pytest.mark.parametrize(("body", "content_type", "status", "detail"), [
    ("{not json", "application/json", 400, "not usable JSON: a syntax error"),
    ("[" * 20000, "application/json", 400, "nests deeper than 64 levels"),  # was a RecursionError: 500
    ('{"name": "\\ud800", "price": 1}', "application/json", 400, "unpaired UTF-16 surrogate"),  # was a 500
    ('{"name": "\\udc00\\ud800", "price": 1}', "application/json", 400, "unpaired UTF-16 surrogate"),
    ('["a", "list"]', "application/json", 400, "must be a JSON object"),
    ("name=tea", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    ('{"name": "tea", "price": 1}', "text/plain", 415, "Content-Type: application/json"),
    ('{"name": "tea", "price": 1}', None, 415, "Content-Type: application/json"),
])
def test_malformed_bodies(client, body, content_type, status, detail):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/items", data=body, headers=headers)
    assert detail in assert_json_error(response, status)["error"]


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"name": "required", "price": "required"}),
    ({"name": "tea"}, {"price": "required"}),
    ({"name": "tea", "price": 1, "colour": "red"}, {"colour": "unknown field"}),
    ({"name": 5, "price": 1}, {"name": "must be a string"}),
    ({"name": "   ", "price": 1}, {"name": "must not be blank"}),
    ({"name": "x" * 101, "price": 1}, {"name": "must be at most 100 characters"}),
    ({"name": "tea", "price": "1"}, {"price": "must be a number"}),
    ({"name": "tea", "price": True}, {"price": "must be a number"}),
    ({"name": "tea", "price": -1}, {"price": "must be between 0 and 1e+06"}),
    ({"name": "tea", "price": 10**7}, {"price": "must be between 0 and 1e+06"}),
    ({"name": "tea", "price": None}, {"price": "must be a number"}),
])
def test_validation_errors_list_every_field(client, body, fields):
    response = client.post("/api/items", data=json.dumps(body), content_type="application/json")
    assert assert_json_error(response, 422)["fields"] == fields


def test_nan_price_is_rejected(client):
    response = client.post("/api/items", data='{"name": "tea", "price": NaN}', content_type="application/json")
    assert_json_error(response, 422)


@pytest.mark.parametrize(("query", "parameter"), [
    ("limit=abc", "limit"), ("limit=0", "limit"), ("limit=101", "limit"),
    ("offset=-1", "offset"), ("offset=1.5", "offset"),
])
def test_bad_query_parameters(client, query, parameter):
    body = assert_json_error(client.get(f"/api/items?{query}"), 400)
    assert body["parameter"] == parameter


def test_unknown_route_and_id(client):
    assert_json_error(client.get("/nope"), 404)
    assert_json_error(client.get("/api/items/999999"), 404)
    assert_json_error(client.delete("/api/items/999999"), 404)
    assert_json_error(client.get("/api/items/abc"), 404)


@pytest.mark.parametrize("item_id", [2**63, 2**63 - 1, 10**30, 0])
def test_ids_beyond_the_column_are_404_not_500(client, item_id):
    # 2**63 and above used to reach SQLite and raise OverflowError.
    assert_json_error(client.get(f"/api/items/{item_id}"), 404)
    assert_json_error(client.delete(f"/api/items/{item_id}"), 404)


def test_a_paired_surrogate_is_an_ordinary_character(client):
    created = client.post("/api/items", data='{"name": "tea \\ud83c\\udf75", "price": 1}',
                          content_type="application/json")
    assert created.status_code == 201 and created.get_json()["name"] == "tea \N{TEACUP WITHOUT HANDLE}"


def test_method_not_allowed_names_the_allowed_ones(client):
    response = client.put("/api/items")
    assert_json_error(response, 405)
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_oversized_body_is_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=2048).test_client()
    response = client.post("/api/items", data=json.dumps({"name": "x" * 5000, "price": 1}),
                           content_type="application/json")
    assert_json_error(response, 413)


def test_unhandled_exception_is_a_json_500_and_logged(make_app, capsys):
    """The demo asks flaskobs for JSON errors: its 500s are JSON too."""
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = app.test_client().get("/boom", headers={"X-Request-ID": "req-boom-1"})
    body = assert_json_error(response, 500)
    assert "kaboom" not in body["error"]  # no internals to the client
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    error = next(line for line in logged if line["level"] == "ERROR")
    assert error["request_id"] == "req-boom-1"
    assert error["error_type"] == "RuntimeError" and "kaboom" in error["stack_trace"]


def test_429_from_the_app_is_json_too(make_app):
    app = make_app()

    @app.get("/limited")
    def limited():
        raise TooManyRequests()

    assert_json_error(app.test_client().get("/limited"), 429)


def test_database_failure_is_500_json_and_readyz_503(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    assert client.get("/readyz").json == {"status": "ready", "checks": {"database": "ok"}}
    # The database file becomes a directory: no connection can open it any more.
    demo_db.engine(app).dispose()
    (tmp_path / "app.db").unlink()
    (tmp_path / "app.db").mkdir()
    assert_json_error(client.get("/api/items"), 500)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["database"].startswith("error")


def test_html_page_links_static_files(client):
    page = client.get("/").get_data(as_text=True)
    for name in ("style.css", "app.js", "logo.svg"):
        assert f"/static/{name}" in page
    assert client.get("/static/style.css").status_code == 200
