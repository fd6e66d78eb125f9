"""A property-based run over the demo's API under each real server (Gunicorn, uWSGI): whatever a
client sends (any JSON, hostile text, ids of any size, query strings), the answer is never a 5xx,
every error is JSON, and the app counts no unhandled exception."""

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.apps import DEMO
from support.uwsgi import servers

# Every code point, lone surrogates included (json.dumps writes them as \ud800 escapes).
any_text = st.text(st.characters(codec=None, categories=None), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=30,
)
item_bodies = st.fixed_dictionaries({}, optional={"name": json_values | any_text, "price": json_values,
                                                  "extra": json_values})
deep = st.integers(1, 30_000).map(lambda n: "[" * n + "]" * n)
bodies = (item_bodies | json_values).map(json.dumps) | deep | st.binary(max_size=200).map(
    lambda b: b.decode("latin-1"))
# A URL carries bytes: every byte string, percent-encoded (invalid UTF-8 too). Text with a lone
# surrogate has no bytes, so no client can send it: quoting one failed the test, not the app.
ids = st.integers(-(2**80), 2**80).map(str) | st.binary(max_size=40).map(requests.utils.quote)
url_text = st.text(st.characters(codec="utf-8"), max_size=40)
queries = st.dictionaries(st.sampled_from(["limit", "offset", "x"]), url_text | st.integers().map(str), max_size=3)


@pytest.fixture(scope="module", params=servers())
def demo(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("properties")
    with request.param(workdir, DEMO.module, cwd=DEMO.directory, DATABASE_URL=f"sqlite:///{workdir}/demo.db",
                  GUNICORN_WORKERS=2) as server:
        yield server


def check(response: requests.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text)
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == "application/json", response.text
        assert response.json()["status"] == response.status_code


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", "application/json; charset=utf-8"]))
def test_any_body_on_create(demo, body, content_type):
    check(requests.post(demo.url + "/api/items", data=body.encode("utf-8", "surrogatepass"),
                        headers={"Content-Type": content_type}, timeout=10))


@settings(max_examples=150, deadline=None, database=None)
@given(item_id=ids, method=st.sampled_from(["GET", "DELETE"]), query=queries)
def test_any_id_and_query(demo, item_id, method, query):
    check(requests.request(method, f"{demo.url}/api/items/{item_id}", timeout=10))
    check(requests.get(demo.url + "/api/items", params=query, timeout=10))


def test_no_exception_was_counted(demo):
    # Last in the module: the runs above raised nothing the app did not handle.
    assert demo.value(r"flask_http_request_exceptions_total\{.*\}") == 0
    assert demo.value(r'flask_http_request_total\{method="POST",status="400"\}') > 0
