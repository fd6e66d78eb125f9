"""Request ids: reused when well-formed, replaced otherwise, echoed, and on every log line."""

import json

import pytest


def test_well_formed_id_is_reused_and_echoed(client):
    response = client.get("/api/hello", headers={"X-Request-ID": "abc-123.XYZ:1"})
    assert response.headers["X-Request-ID"] == "abc-123.XYZ:1"


def test_missing_id_is_generated(client):
    first = client.get("/api/hello").headers["X-Request-ID"]
    second = client.get("/api/hello").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", "x" * 5000, "ünïcode"])
def test_malformed_id_is_replaced_and_logged(make_app, capsys, bad):
    client = make_app().test_client()
    response = client.get("/api/hello", headers={"X-Request-ID": bad})
    assert response.status_code == 200
    generated = response.headers["X-Request-ID"]
    assert generated != bad and len(generated) == 32
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    warning = next(line for line in lines if line["logger"] == "app.request_id")
    assert warning["level"] == "WARNING" and warning["request_id"] == generated
    assert bad not in json.dumps(warning)  # the bad value itself never reaches the logs


def test_every_log_record_of_a_request_carries_its_id(make_app, capsys):
    client = make_app().test_client()
    client.post("/api/items", json={"name": "tea", "price": 1}, headers={"X-Request-ID": "req-42",
                                                                          "User-Agent": "unit-test/1.0"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    created = next(line for line in lines if line["message"] == "item created")
    assert created["request_id"] == "req-42"
    assert created["method"] == "POST" and created["endpoint"] == "/api/items" and created["path"] == "/api/items"
    assert created["user_agent"] == "unit-test/1.0"  # the library's formatter leaves this empty
    for field in ("@timestamp", "level", "logger", "message", "service", "environment", "version", "pid",
                  "remote_addr", "event_id"):
        assert field in created, field
