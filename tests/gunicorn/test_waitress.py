"""`flaskobs-waitress` (a real Waitress process on loopback): the same request ids, JSON lines, exact
metrics and lossless shipping as under Gunicorn, without Gunicorn, fork or flock (as on Windows)."""

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support.docker import ROOT
from support.gunicorn import free_port, stop_while_waiting
from support.sink import JsonLinesSink
from support.waiting import wait_until
from support.waitress import Waitress

pytest.importorskip("waitress", reason="waitress is in requirements-dev.txt; this Python lacks it")

ITEMS = r'flask_http_request_duration_seconds_count\{method="POST",status="201",url_rule="/items"\}'
# What Windows lacks, taken away before flaskobs loads: fork hooks, flock, and Gunicorn (which needs both).
WINDOWS_LIKE = ("import os, sys; del os.fork, os.register_at_fork; sys.modules['fcntl'] = None; "
                "sys.modules['gunicorn'] = None; from flaskobs.waitress_serve import main; main()")


def lines(server: Waitress) -> list[dict]:
    return [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]


def post_items(server: Waitress, ids: list[str]) -> None:
    def one(request_id: str) -> int:
        return requests.post(server.url + "/items", headers={"X-Request-ID": request_id}, timeout=10).status_code
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, ids)) == [201] * len(ids)


@pytest.mark.parametrize("command", [None, [sys.executable, "-c", WINDOWS_LIKE]], ids=["linux", "windows-like"])
def test_requests_are_counted_and_logged_with_their_id(tmp_path, command):
    ids = [f"waitress-{uuid.uuid4().hex}" for _ in range(40)]
    with Waitress(tmp_path, command=command) as server:
        post_items(server, ids)
        response = requests.get(server.url + "/hello", headers={"X-Request-ID": "hello-1"}, timeout=10)
        assert response.headers["X-Request-ID"] == "hello-1"
        assert response.headers["traceparent"].startswith("00-")
        assert "Server" not in response.headers  # Waitress's name is not announced
        assert server.value(ITEMS) == 40
        assert requests.get(server.url + "/metrics", timeout=5).status_code == 404  # only on METRICS_PORT
        sent = {*ids, "hello-1"}
        wait_until(lambda: sum(e.get("logger") == "gunicorn.access" and e["request_id"] in sent
                               for e in lines(server)) == 41, 5, "one access line per request", 0.1)
    logged = lines(server)
    for logger in ("tinyapp", "gunicorn.access"):
        assert sorted(e["request_id"] for e in logged if e.get("logger") == logger and e["request_id"] in ids) == \
            sorted(ids), logger
    access = next(e for e in logged if e.get("request_id") == "hello-1")
    assert (access["status"], access["endpoint"], access["bytes"]) == (200, "/hello", len(response.content))
    assert access["trace_id"] == response.headers["traceparent"].split("-")[1]


def test_outage_and_restart_lose_nothing(tmp_path):
    port = free_port()  # Logstash is down
    env = {"LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": port, "LOG_SHIP_ACCESS": "true"}
    ids = [f"wship-{uuid.uuid4().hex}" for _ in range(30)]
    server = Waitress(tmp_path, **env).start()
    post_items(server, ids)
    took = server.stop()
    assert took < 10 and server.proc.returncode == 0, (took, server.output()[-2000:])
    sink = JsonLinesSink(port).start()  # Logstash is back; so is the app, with the queue left on disk
    try:
        with Waitress(tmp_path, **env):
            wanted = {(i, logger) for i in ids for logger in ("tinyapp", "gunicorn.access")}

            def arrived() -> dict:
                counts: dict = {}
                for e in sink.received():
                    key = (e.get("request_id"), e.get("logger"))
                    if key in wanted:
                        counts[key] = counts.get(key, 0) + 1
                return counts
            wait_until(lambda: set(arrived()) == wanted, 30, "every record of the outage at the sink", 0.3)
            assert set(arrived().values()) == {1}
    finally:
        sink.stop()


def test_sigterm_lets_in_flight_requests_finish(tmp_path):
    server = Waitress(tmp_path).start()
    took, statuses = stop_while_waiting(server, 4, 1.0)
    assert statuses == [200] * 4
    assert took < 5 and server.proc.returncode == 0, (took, server.output()[-2000:])


@pytest.mark.parametrize(("env", "command", "message"), [
    ({"WAITRESS_LISTEN": "nowhere"}, None, "WAITRESS_LISTEN='nowhere'"),
    ({"WAITRESS_THREADS": "0"}, None, "WAITRESS_THREADS=0 is out of range; allowed: 1..256"),
    ({"APP_MODULE": ""}, None, "APP_MODULE is not set"),
    ({"APP_MODULE": "nosuch:create_app()"}, None, "APP_MODULE='nosuch:create_app()'"),
    ({"LOG_LEVEL": "LOUD"}, None, "LOG_LEVEL='LOUD' is not allowed"),
    ({"LOGSTASH_HOST": "127.0.0.1"}, [sys.executable, "-c", WINDOWS_LIKE],
     "LOGSTASH_HOST is set, but shipping needs flock"),
])
def test_bad_setting_stops_startup_naming_it(tmp_path, env, command, message):
    server = Waitress(tmp_path, command=command, **env)
    proc = subprocess.run(server.command, cwd=ROOT / "tests", env=server.env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
