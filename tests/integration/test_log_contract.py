"""The app container, configured as in compose, ships to a JsonLinesSink (a TEST DOUBLE for
Logstash's tcp/json_lines input) the fields the Logstash pipeline expects, and loses nothing
while the receiver is down."""

import json
import time
import uuid

import pytest
import requests
from support.docker import require_images
from support.stack import compose_stack

pytestmark = pytest.mark.stack("logs-contract")
PIPELINE_FIELDS = {"@timestamp": str, "event_id": str, "level": str, "logger": str, "message": str,
                   "request_id": str, "method": str, "endpoint": str, "path": str, "remote_addr": str,
                   "user_agent": str, "service": str, "environment": str, "version": str, "pid": int}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_images("PYTHON_IMAGE")
    with compose_stack("logsink", ["app"], tmp_path_factory.mktemp("logsink"),
                       extra_files=("compose/publish-app.yaml", "tests/integration/compose.logsink.yaml")) as s:
        yield s


def received(stack) -> list[dict]:
    return [json.loads(line[5:]) for line in stack.logs("logsink").splitlines() if line.startswith("SINK ")]


def send(stack, ids: list[str]) -> float:
    """POST one item per id; return the slowest response time."""
    slowest = 0.0
    for request_id in ids:
        started = time.monotonic()
        r = requests.post(stack.url("app", 8000) + "/api/items", json={"name": "tea", "price": 1},
                          headers={"X-Request-ID": request_id, "User-Agent": "contract"}, timeout=10)
        slowest = max(slowest, time.monotonic() - started)
        assert r.status_code == 201
    return slowest


def wait_all_once(stack, ids: list[str], timeout: float = 60) -> list[dict]:
    wanted = {(i, logger) for i in ids for logger in ("app.api", "gunicorn.access")}
    deadline = time.monotonic() + timeout
    while True:
        events = [e for e in received(stack) if e.get("request_id") in set(ids)]
        got = [(e["request_id"], e["logger"]) for e in events]
        if set(got) >= wanted or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert set(got) == wanted, f"{len(wanted - set(got))} events missing"
    assert len(got) == len(set(got)), "some events arrived twice"
    return events


def test_events_carry_the_fields_the_pipeline_expects(stack):
    ids = [f"contract-{uuid.uuid4().hex}" for _ in range(10)]
    send(stack, ids)
    events = wait_all_once(stack, ids)
    created = next(e for e in events if e["logger"] == "app.api")
    for field, kind in PIPELINE_FIELDS.items():
        assert isinstance(created.get(field), kind) and created[field] != "", field
    access = next(e for e in events if e["logger"] == "gunicorn.access")
    assert access["status"] == 201 and isinstance(access["duration_ms"], float)
    assert created["user_agent"] == "contract" and created["environment"] == "production"


def test_receiver_outage_loses_nothing_and_blocks_no_request(stack):
    stack.run("stop", "logsink")
    ids = [f"outage-{uuid.uuid4().hex}" for _ in range(20)]
    slowest = send(stack, ids)
    assert slowest < 1.0, f"a request took {slowest:.2f} s while Logstash was down"
    time.sleep(2)  # the shipper retries and fails meanwhile
    stack.run("start", "logsink")
    wait_all_once(stack, ids)
