"""Request ids: reused when well-formed, replaced otherwise, echoed once, on every log line."""

import json

import pytest

import flaskobs


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_well_formed_id_is_reused_and_echoed_once(tiny):
    response = tiny.test_client().get("/hello", headers={"X-Request-ID": "abc-123.XYZ:1"})
    assert response.headers.getlist("X-Request-ID") == ["abc-123.XYZ:1"]


def test_missing_id_is_generated(tiny):
    client = tiny.test_client()
    first = client.get("/hello").headers["X-Request-ID"]
    second = client.get("/hello").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_an_id_the_app_set_itself_is_replaced_not_doubled(tiny):
    @tiny.get("/own-id")
    def own_id():
        return {"ok": True}, 200, {"x-request-id": "the-app-made-this"}

    response = tiny.test_client().get("/own-id", headers={"X-Request-ID": "ours"})
    assert response.headers.getlist("X-Request-ID") == ["ours"]


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", "x" * 5000, "ünïcode"])
def test_malformed_id_is_replaced_and_logged(capsys, tiny, bad):
    response = tiny.test_client().get("/hello", headers={"X-Request-ID": bad})
    assert response.status_code == 200
    generated = response.headers["X-Request-ID"]
    assert generated != bad and len(generated) == 32
    warning = next(line for line in lines(capsys) if line["logger"] == "flaskobs.observer")
    assert warning["level"] == "WARNING" and warning["request_id"] == generated
    assert bad not in json.dumps(warning)  # the bad value itself never reaches the logs


def test_every_log_record_of_a_request_carries_its_id(capsys, tiny):
    tiny.test_client().post("/items", headers={"X-Request-ID": "req-42", "User-Agent": "unit-test/1.0"})
    created = next(line for line in lines(capsys) if line["message"] == "item created")
    assert created["request_id"] == "req-42"
    assert created["method"] == "POST" and created["endpoint"] == "/items" and created["path"] == "/items"
    assert created["user_agent"] == "unit-test/1.0"  # the library's formatter leaves this empty
    for field in ("@timestamp", "level", "logger", "message", "service", "environment", "version", "pid",
                  "remote_addr", "event_id"):
        assert field in created, field


def test_the_app_reads_its_request_id(tiny):
    @tiny.get("/my-id")
    def my_id():
        return {"id": flaskobs.request_id()}

    assert tiny.test_client().get("/my-id", headers={"X-Request-ID": "r-7"}).json == {"id": "r-7"}
    assert flaskobs.request_id() is None  # outside a request
