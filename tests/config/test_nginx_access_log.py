"""Nginx's buffered access log (4k, flushed every second) still delivers every line: while it
runs, within the flush interval; when it stops, from the buffer it holds at that moment."""

import json
import subprocess
import uuid

import pytest
import requests
from support.docker import require_images, start_plain_nginx
from support.waiting import wait_until


@pytest.fixture
def nginx():
    """Our Nginx config alone (TLS off; `app` points at nothing, so answers come from the JSON 502 server)."""
    require_images("NGINX_IMAGE")
    name = f"flaskobs-test-nginx-{uuid.uuid4().hex[:8]}"
    try:
        yield name, start_plain_nginx(name, wait=10, poll_timeout=1)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def logged_ids(name: str) -> list[str]:
    out = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stdout
    return [json.loads(line).get("request_id") for line in out.splitlines() if line.startswith('{"@timestamp"')]


def send(url: str, n: int) -> list[str]:
    ids = [f"buf-{uuid.uuid4().hex}" for _ in range(n)]
    for request_id in ids:
        response = requests.get(url + "/api/hello", headers={"X-Request-ID": request_id}, timeout=10)
        assert response.headers["X-Request-ID"] == request_id
    return ids


def test_lines_reach_the_container_log_within_the_flush_interval(nginx):
    name, url = nginx
    ids = send(url, 3)
    # flush=1s, plus slack for a slow machine
    wait_until(lambda: set(ids) <= set(logged_ids(name)), 3, "the lines in the container log")


@pytest.mark.parametrize("stop", [["docker", "stop"], ["docker", "kill", "-s", "TERM"]],
                         ids=["graceful stop", "fast shutdown"])
def test_lines_still_buffered_are_written_when_nginx_stops(nginx, stop):
    name, url = nginx
    ids = send(url, 5)
    subprocess.run([*stop, name], check=True, capture_output=True)  # at once: lines are still in the buffer
    subprocess.run(["docker", "wait", name], capture_output=True, timeout=30)
    assert sorted(set(ids) & set(logged_ids(name))) == sorted(ids)


def access_lines(name: str) -> list[dict]:
    out = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"@timestamp"')]


def test_every_line_has_its_own_event_id_even_with_a_reused_request_id(nginx):
    """Logstash stores a line under its event_id: two requests in the same second, with the same
    client X-Request-ID, path and status, must not share one (issue 12, defect 6)."""
    name, url = nginx
    reused = f"same-{uuid.uuid4().hex}"
    for _ in range(2):
        requests.get(url + "/api/hello", headers={"X-Request-ID": reused}, timeout=10)
    def both() -> list[dict]:
        found = [line for line in access_lines(name) if line["request_id"] == reused]
        return found if len(found) == 2 else []
    lines = wait_until(both, 3, "both lines in the container log")
    assert len({line["event_id"] for line in lines}) == 2
    assert all(len(line["event_id"]) == 32 and line["event_id"] != reused for line in lines)


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(("traceparent", "logged"), [
    (f"00-{TRACE}-00f067aa0ba902b7-01", TRACE),
    (f"01-{TRACE}-00f067aa0ba902b7-01-later-fields", TRACE),
    (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", ""),  # upper case
    (f"00-{'0' * 32}-00f067aa0ba902b7-01", ""),  # all-zero trace id
    (f"00-{TRACE}-{'0' * 16}-01", ""),  # all-zero parent id
    (f"ff-{TRACE}-00f067aa0ba902b7-01", ""),  # version ff
    (f"00-{TRACE}-00f067aa0ba902b7-01-extra", ""),  # version 00 has nothing after the flags
    ("x" * 4000, ""),
    (None, ""),
])
def test_the_access_line_carries_only_a_valid_incoming_trace_id(nginx, traceparent, logged):
    """Nginx answered itself (no app here): the trace id is the client's, when W3C-valid."""
    name, url = nginx
    request_id = f"tp-{uuid.uuid4().hex}"
    headers = {"X-Request-ID": request_id, **({"traceparent": traceparent} if traceparent else {})}
    requests.get(url + "/api/hello", headers=headers, timeout=10)
    line = wait_until(lambda: next((x for x in access_lines(name) if x["request_id"] == request_id), None), 5,
                      "the request's access line")
    assert line["trace_id"] == logged
