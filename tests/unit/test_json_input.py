"""Any app's request.get_json: hostile bodies are a 400 (Flask's own answer to bad JSON), never a 500."""

import json
import re

import pytest
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

import flaskobs
from flaskobs import json_input
from flaskobs.settings import ConfigError


def echo_app(provider_class=None, **options) -> Flask:
    app = Flask("echo")
    if provider_class:
        app.json_provider_class = provider_class
        app.json = provider_class(app)
    app.config["SECRET_KEY"] = "x" * 8 + "abcdefghijklmnopqrstuvwxyz0123456789"

    @app.post("/echo")
    def echo():
        return {"got": request.get_json()}
    flaskobs.init_app(app, app_env="test", **options)
    return app


def post(app, body: str):
    return app.test_client().post("/echo", data=body, content_type="application/json")


@pytest.mark.parametrize("body", [
    "[" * 20000,  # RecursionError inside the parser
    "[" * 65 + "]" * 65,  # parses, one level too deep
    '{"a": ' * 65 + "1" + "}" * 65,
    '"\\ud800"', '"\\udfff"', '{"\\ud800": 1}', '["ok", ["\\udc00\\ud83c"]]',
])
def test_hostile_json_is_a_400(environment, body):
    assert post(echo_app(), body).status_code == 400


@pytest.mark.parametrize("body", ["[" * 63 + "]" * 63,  # 64 with the reply's wrapper
                                   '"\\ud83c\\udf75"', '{"a": [1, "x", {"b": null}]}'])
def test_ordinary_json_still_parses(environment, body):
    response = post(echo_app(), body)
    assert response.status_code == 200 and response.get_json()["got"] == json.loads(body)


def test_the_bound_is_a_setting(environment):
    environment(JSON_MAX_DEPTH="3")
    app = echo_app()
    assert post(app, "[[[1]]]").status_code == 200
    assert post(app, "[[[[1]]]]").status_code == 400
    with pytest.raises(ConfigError, match=re.escape("JSON_MAX_DEPTH='deep' is not a whole number; allowed: 1..500")):
        echo_app(json_max_depth="deep")


def test_an_apps_own_provider_is_guarded_and_kept(environment):
    class Sorted(DefaultJSONProvider):
        sort_keys = False
        calls = 0

        def loads(self, s, **kwargs):
            Sorted.calls += 1
            return super().loads(s, **kwargs)
    app = echo_app(Sorted)
    assert isinstance(app.json, Sorted)
    assert post(app, '{"b": 1, "a": 2}').get_data(as_text=True).index('"b"') < 30  # its dumps settings hold
    assert post(app, "[" * 100 + "]" * 100).status_code == 400
    assert Sorted.calls == 2


def test_the_reason_is_found_behind_flasks_bad_request(environment):
    app = echo_app()
    with app.test_request_context("/echo", method="POST", data="[" * 99 + "]" * 99,
                                  content_type="application/json"):
        with pytest.raises(BadRequest) as caught:
            request.get_json()
    assert json_input.problem(caught.value) == "the JSON nests deeper than 64 levels"
    assert json_input.problem(ValueError("other")) is None
