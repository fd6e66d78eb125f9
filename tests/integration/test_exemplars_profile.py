"""From a slow request to its logs: requests sent through Nginx come back from Prometheus's
query_exemplars API as request ids that were sent, each in the latency bucket its measured
duration falls in, with the trace id of its traceparent; the same ids are on the log lines the
app shipped. The demo app behind Nginx, a real Prometheus (metrics profile), and a
JsonLinesSink TEST DOUBLE standing in for Logstash (tests/integration/compose.logsink.yaml).
Under each server: uWSGI's metrics server serves the workers' exemplars as Gunicorn's does.

The slow requests are slow for a real reason: another client holds the SQLite database's
write lock, so the demo's POST /api/items waits for it (busy_timeout), as under write contention.
"""

import json
import subprocess
import threading
import time
import uuid

import pytest
import requests
from support.docker import require_images
from support.latency_buckets import bucket_interval
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("metrics")
TRACE = uuid.uuid4().hex
HOLD_SECONDS = 1.2  # how long the write lock is held while the slow requests wait for it
# Holds the demo database's write lock from when it says "locked" until told to let go.
HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect("/var/lib/app/data/app.db", isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


@pytest.fixture(scope="module", params=["gunicorn", "uwsgi"])
def stack(request, tmp_path_factory):
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE", "NGINX_IMAGE", "PROMETHEUS_IMAGE", "ALERTMANAGER_IMAGE")
    workdir = tmp_path_factory.mktemp(f"exemplars-{request.param}")
    with compose_stack(f"exemplars-{request.param}", ["app", "metrics", "logs"], workdir,
                       services=["app", "nginx", "prometheus", "logsink", "shipping-on"],
                       extra_files=("tests/integration/compose.logsink.yaml",), APP_SERVER=request.param) as running:
        running.base = running.url("nginx", 8443, "https")
        running.cert = str(workdir / "certs" / "tls.crt")
        running.prometheus = running.url("prometheus", 9090)
        yield running


def headers(request_id: str) -> dict:
    return {"X-Request-ID": request_id, "traceparent": f"00-{TRACE}-{uuid.uuid4().hex[:16]}-01"}


def slow_posts(stack, ids: list[str]) -> None:
    """POST one item per id while the database's write lock is held elsewhere: each waits for it."""
    container = stack.compose.get_container("app").ID
    holder = subprocess.Popen(["docker", "exec", "-i", container, "python3", "-c", HOLD_LOCK],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    answers = []

    def post(request_id: str) -> None:
        started = time.monotonic()
        status = requests.post(stack.base + "/api/items", json={"name": "slow", "price": 1},
                               headers=headers(request_id), verify=stack.cert, timeout=30).status_code
        answers.append((status, time.monotonic() - started))
    threads = [threading.Thread(target=post, args=(i,)) for i in ids]
    try:
        assert holder.stdout.readline().strip() == "locked"
        for thread in threads:
            thread.start()
        time.sleep(HOLD_SECONDS)  # the contention itself: the requests wait this long for the lock
    finally:
        holder.communicate("release\n", timeout=30)
    for thread in threads:
        thread.join()
    assert holder.returncode == 0
    # Each waited, for the lock or, behind one that did, for a free worker.
    assert all(status == 201 and took >= HOLD_SECONDS / 2 for status, took in answers), answers


def exemplars(stack, since: float) -> list[tuple[dict, dict]]:
    """(series labels, exemplar) of every latency bucket exemplar Prometheus holds since `since`."""
    response = requests.get(stack.prometheus + "/api/v1/query_exemplars", timeout=10, params={
        "query": "flask_http_request_duration_seconds_bucket", "start": since - 60, "end": time.time() + 60})
    body = response.json()
    assert body["status"] == "success", body
    return [(series["seriesLabels"], e) for series in body["data"] for e in series["exemplars"]]


def test_a_slow_request_leads_from_its_bucket_to_its_logs(stack):
    since = time.time()
    fast = [f"fast-{uuid.uuid4().hex}" for _ in range(10)]
    with requests.Session() as session:
        for request_id in fast:
            response = session.get(stack.base + "/api/items", headers=headers(request_id), verify=stack.cert,
                                   timeout=30)
            assert response.status_code == 200
    slow = [f"slow-{uuid.uuid4().hex}" for _ in range(3)]
    slow_posts(stack, slow)
    sent = set(fast) | set(slow)

    def ours():
        # A slow POST's exemplar in a bucket of its wait (one that waited for a worker instead,
        # behind it, is fast inside the app and lands low), and a fast GET's.
        found = [(s, e) for s, e in exemplars(stack, since) if e["labels"].get("request_id") in sent]
        waited = [e for s, e in found if s.get("url_rule") == "/api/items" and s.get("method") == "POST"
                  and e["labels"]["request_id"] in slow and float(e["value"]) >= HOLD_SECONDS / 2
                  and float(s["le"]) >= 1.0]
        return found if waited and any(s.get("method") == "GET" for s, _ in found) else None
    found = wait_until(ours, 90, "exemplars of the sent requests in Prometheus", 2)
    # Every exemplar Prometheus holds since then names a request that was sent, with its trace id.
    every = exemplars(stack, since)
    assert {e["labels"].get("request_id") for _, e in every} <= sent, every
    assert all(e["labels"].get("trace_id") == TRACE for _, e in found)
    # Each sits in the bucket its duration falls in.
    for series, exemplar in found:
        lower, upper = bucket_interval(series["le"])
        assert lower < float(exemplar["value"]) <= upper, (series, exemplar)
    # The same requests' log lines reached the pipeline (the sink), carrying the same ids, and
    # the duration the app logged for each matches its exemplar.
    wanted = {e["labels"]["request_id"] for _, e in found}

    def shipped() -> dict | None:
        lines = [json.loads(line[5:]) for line in stack.logs("logsink").splitlines() if line.startswith("SINK ")]
        access = {d["request_id"]: d for d in lines if d.get("logger") == "gunicorn.access"}
        return access if wanted <= set(access) else None
    access = wait_until(shipped, 60, "the access lines of the exemplars' requests at the sink", 1)
    for _, exemplar in found:
        line = access[exemplar["labels"]["request_id"]]
        assert line["trace_id"] == TRACE
        assert abs(line["duration_ms"] / 1000 - float(exemplar["value"])) < 0.05, (line, exemplar)

