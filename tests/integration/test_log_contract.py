"""The app container, configured as in compose with the logs profile, ships to a JsonLinesSink
(a TEST DOUBLE for Logstash's tcp/json_lines input, answering under Logstash's name) the fields
the Logstash pipeline expects, and loses nothing while the receiver is down: for the demo and
for the bookshelf example. Only the profile switches shipping on: no LOGSTASH_HOST is set."""

import json
import time
import uuid

import pytest
import requests
from support.apps import APPS, BOOKSHELF_UWSGI, AppUnderTest
from support.docker import require_images
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("logs-contract")
PIPELINE_FIELDS = {"@timestamp": str, "event_id": str, "level": str, "logger": str, "message": str,
                   "request_id": str, "method": str, "endpoint": str, "path": str, "remote_addr": str,
                   "user_agent": str, "service": str, "environment": str, "version": str, "pid": int}


@pytest.fixture(scope="module", params=[*APPS, BOOKSHELF_UWSGI], ids=lambda a: a.label)
def deployed(request, tmp_path_factory):
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE")
    app: AppUnderTest = request.param
    # The logs profile's switch (shipping-on) and the sink; not Elasticsearch, Logstash, Kibana.
    with compose_stack(f"logsink-{app.label}", ["app", "logs"], tmp_path_factory.mktemp("logsink"),
                       services=["app", "logsink", "shipping-on"],
                       extra_files=("compose/publish-app.yaml", "tests/integration/compose.logsink.yaml"),
                       **app.env()) as stack:
        yield app, stack


def test_the_profile_told_the_app_where_logstash_is(deployed):
    _, stack = deployed
    assert "LOGSTASH_HOST" not in stack.env
    assert stack.exec("app", "cat", "/run/deployment/logstash-host") == "logstash\n"
    assert "LOGSTASH_HOST=" not in stack.exec("app", "env")
    ready = requests.get(stack.url("app", 8000) + "/readyz", timeout=5).json()
    assert ready == {"status": "ready", "checks": {"database": "ok", "log_queue": "ok"}}


def received(stack) -> list[dict]:
    return [json.loads(line[5:]) for line in stack.logs("logsink").splitlines() if line.startswith("SINK ")]


def send(app: AppUnderTest, stack, ids: list[str]) -> list[float]:
    """Create one thing per id; return each response time."""
    times = []
    with requests.Session() as session:
        for request_id in ids:
            started = time.monotonic()
            status = app.create(stack.url("app", 8000), request_id, session, headers={"User-Agent": "contract"})
            times.append(round(time.monotonic() - started, 3))
            assert status == app.created_status
    return times


def wait_all_once(app: AppUnderTest, stack, ids: list[str], timeout: float = 60) -> list[dict]:
    wanted = {(i, logger) for i in ids for logger in (app.created_logger, "gunicorn.access")}

    def ours() -> list[dict]:
        return [e for e in received(stack) if e.get("request_id") in set(ids)]
    wait_until(lambda: {(e["request_id"], e["logger"]) for e in ours()} >= wanted, timeout,
               f"{len(wanted)} events at the sink", 0.5)
    events = ours()
    got = [(e["request_id"], e["logger"]) for e in events]
    assert set(got) == wanted
    assert len(got) == len(set(got)), "some events arrived twice"
    return events


def test_events_carry_the_fields_the_pipeline_expects(deployed):
    app, stack = deployed
    ids = [f"contract-{uuid.uuid4().hex}" for _ in range(10)]
    send(app, stack, ids)
    events = wait_all_once(app, stack, ids)
    created = next(e for e in events if e["logger"] == app.created_logger)
    for field, kind in PIPELINE_FIELDS.items():
        assert isinstance(created.get(field), kind) and created[field] != "", field
    access = next(e for e in events if e["logger"] == "gunicorn.access")
    assert access["status"] == app.created_status and isinstance(access["duration_ms"], float)
    assert created["user_agent"] == "contract" and created["environment"] == "production"


def test_receiver_outage_loses_nothing_and_blocks_no_request(deployed):
    app, stack = deployed
    stack.service("stop", "logsink")
    ids = [f"outage-{uuid.uuid4().hex}" for _ in range(20)]
    times = send(app, stack, ids)
    assert max(times) < 1.0, f"a request took {max(times):.2f} s while Logstash was down: {times}"

    def queued() -> float:  # what the app holds on disk, undelivered (the master's gauge)
        text = requests.get(stack.url("app", 9101) + "/metrics", timeout=5).text
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("app_log_queue_events "))
    wait_until(lambda: queued() >= 2 * len(ids), 10, "the outage's events queued on disk")
    stack.service("start", "logsink")
    wait_all_once(app, stack, ids)
