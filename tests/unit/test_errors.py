"""Errors: JSON bodies only when asked for (APIs), the app's own pages otherwise; unhandled
exceptions counted and logged either way."""

import json

from flask import Flask, abort
from support.checks import assert_json_error
from werkzeug.exceptions import TooManyRequests

import flaskobs


def exceptions_counted(app) -> float:
    return flaskobs.state(app).metrics.registry.get_sample_value(
        "flask_http_request_exceptions_total", {"method": "GET", "status": "500"}) or 0.0


def test_html_apps_keep_their_pages(tiny):
    client = tiny.test_client()
    assert client.get("/nope").mimetype == "text/html"
    assert client.get("/boom").mimetype == "text/html"
    assert client.put("/hello").mimetype == "text/html"
    assert exceptions_counted(tiny) == 1


def test_an_apps_own_error_pages_win_and_exceptions_are_still_counted(environment):
    environment()
    app = Flask("pages")

    @app.errorhandler(404)
    def not_found(exc):
        return "<h1>lost</h1>", 404

    @app.errorhandler(500)
    def broken(exc):
        return "<h1>sorry</h1>", 500

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    flaskobs.init_app(app, json_errors=True)  # even with JSON on, the app's handlers for a code win
    client = app.test_client()
    assert client.get("/nope").get_data(as_text=True) == "<h1>lost</h1>"
    assert client.get("/boom").get_data(as_text=True) == "<h1>sorry</h1>"
    assert exceptions_counted(app) == 1
    assert client.put("/boom").mimetype == "application/json"  # no handler of its own for 405


def test_json_errors_for_every_status(make_tiny, capsys):
    app = make_tiny({"json_errors": True})

    @app.get("/limited")
    def limited():
        raise TooManyRequests()

    @app.get("/gone")
    def gone():
        abort(410, description="moved away")

    client = app.test_client()
    assert_json_error(client.get("/nope"), 404)
    assert assert_json_error(client.get("/gone"), 410)["error"] == "moved away"
    assert_json_error(client.get("/limited"), 429)
    response = client.put("/hello")
    assert_json_error(response, 405)
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    body = assert_json_error(client.get("/boom", headers={"X-Request-ID": "req-boom-1"}), 500)
    assert "kaboom" not in json.dumps(body)  # no internals to the client
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    error = next(line for line in logged if line["level"] == "ERROR")
    assert error["request_id"] == "req-boom-1"
    assert error["error_type"] == "RuntimeError" and "kaboom" in error["stack_trace"]
    assert exceptions_counted(app) == 1


def test_details_of_an_exception_join_the_body(make_tiny):
    from werkzeug.exceptions import UnprocessableEntity
    app = make_tiny({"json_errors": True})

    class Invalid(UnprocessableEntity):
        def __init__(self, description):
            super().__init__(description)
            self.details = {"fields": {"name": "required"}}

    @app.post("/things")
    def things():
        raise Invalid("request body failed validation")

    body = assert_json_error(app.test_client().post("/things"), 422)
    assert body["fields"] == {"name": "required"}
