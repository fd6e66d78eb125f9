"""GUNICORN_WORKER_CLASS=gevent keeps sync's guarantees: exact counts across recycled and killed
workers, log shipping that neither blocks the event loop nor loses a record, and a graceful stop.
The tiny app's /wait sleeps as an app waiting on another service does (cooperative under gevent)."""

import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support.gunicorn import Gunicorn, free_port, stop_while_waiting
from support.sink import JsonLinesSink
from support.waiting import wait_until

pytest.importorskip("gevent", reason="gevent is in requirements-dev.txt; this Python lacks it")

WAIT = r'flask_http_request_duration_seconds_count\{method="GET",status="200",url_rule="/wait"\}'


def concurrently(server: Gunicorn, ids: list[str], seconds: float) -> list[requests.Response]:
    """GET /wait?seconds=... once per id, all at the same time, each on its own connection, closed after
    the answer (idle keep-alive connections have a test of their own, below)."""
    def one(request_id: str) -> requests.Response:
        return requests.get(f"{server.url}/wait", params={"seconds": seconds},
                            headers={"X-Request-ID": request_id, "Connection": "close"}, timeout=30)
    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(one, ids))


@pytest.mark.parametrize(("worker_class", "concurrent"), [("gevent", True), ("sync", False)])
def test_one_gevent_worker_serves_waiting_requests_at_once(tmp_path, worker_class, concurrent):
    # The sync row is the control: the same 8 waits on one sync worker take 8 x 0.5 s.
    with Gunicorn(tmp_path, GUNICORN_WORKERS=1, GUNICORN_WORKER_CLASS=worker_class) as server:
        started = time.monotonic()
        responses = concurrently(server, [f"at-once-{i}" for i in range(8)], 0.5)
        took = time.monotonic() - started
        assert [r.status_code for r in responses] == [200] * 8
        assert (took < 2.0) is concurrent, f"{worker_class}: 8 waits of 0.5 s took {took:.2f} s"
        wait_until(lambda: server.value(WAIT) == 8, 5, "8 counted waits", 0.2)


def test_counts_are_exact_across_recycled_and_killed_gevent_workers(tmp_path):
    # A gevent worker past max_requests keeps accepting until its loop notices (within a second), so
    # each round waits for its recycled worker: 20 requests on 2 workers bring one of them to 10.
    recycled = r'gunicorn_worker_exits_total\{reason="recycled"\}'
    with Gunicorn(tmp_path, GUNICORN_WORKERS=2, GUNICORN_WORKER_CLASS="gevent", GUNICORN_MAX_REQUESTS=10,
                  GUNICORN_MAX_REQUESTS_JITTER=0) as server:
        for round_ in range(1, 4):
            responses = concurrently(server, [f"r{round_}-{i}" for i in range(20)], 0.05)
            assert all(r.status_code == 200 for r in responses)
            wait_until(lambda n=round_: server.value(recycled) >= n, 15, f"{round_} recycled workers", 0.2)
        wait_until(lambda: len(server.workers()) == 2, 15, "two workers", 0.2)
        victim = sorted(server.workers())[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in server.workers() and len(server.workers()) == 2, 20,
                   "the killed worker to be replaced", 0.2)
        concurrently(server, [f"after-{i}" for i in range(10)], 0.05)
        text = server.scrape()
        assert server.value(WAIT, text) == 70, text
        assert server.value(r'gunicorn_worker_exits_total\{reason="killed"\}', text) == 1, text
        # gevent's own warning when something imported ssl's classes before the worker patched them
        assert "MonkeyPatchWarning" not in server.output()


class StalledLogstash:
    """A TEST DOUBLE for a Logstash that accepts connections and never reads: each batch the shipper
    sends waits for its acknowledgement until the socket timeout."""

    def __init__(self, port: int):
        self.server = socket.create_server(("127.0.0.1", port))
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.accepted.append(conn)

    def close(self) -> None:
        self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(), which holds the port until then
        self.server.close()
        for conn in self.accepted:
            conn.close()


def queue_connections(pid: int) -> int:
    """How many open files of this process are log queue databases (one per SQLite connection)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        count += target.endswith(".db") and "/log-queue/slot-" in target
    return count


def test_a_stalled_logstash_blocks_no_request_and_loses_no_record(tmp_path):
    port = free_port()
    stalled = StalledLogstash(port)
    env = {"GUNICORN_WORKERS": 1, "GUNICORN_WORKER_CLASS": "gevent", "LOGSTASH_HOST": "127.0.0.1",
           "LOGSTASH_PORT": port, "LOG_SHIP_ACCESS": "true"}
    ids = [f"stall-{uuid.uuid4().hex}" for _ in range(40)]
    try:
        with Gunicorn(tmp_path, **env) as server:
            wait_until(lambda: stalled.accepted, 10, "the shipper to connect to the stalled Logstash", 0.1)
            for batch in (ids[:20], ids[20:]):  # the shipper is stuck on a send meanwhile
                started = time.monotonic()
                responses = concurrently(server, batch, 0.3)
                took = time.monotonic() - started
                assert [r.status_code for r in responses] == [200] * 20
                assert took < 2.0, f"20 waits of 0.3 s took {took:.2f} s while Logstash stalls"
            # One queue connection for the requests of this OS thread, one for the sender: not one per client.
            assert queue_connections(sorted(server.workers())[0]) <= 2
    finally:
        stalled.close()
    # Logstash comes back: every record the requests logged arrives, from the queue the stop left behind.
    sink = JsonLinesSink(port).start()
    try:
        with Gunicorn(tmp_path, **env):
            wanted = {(i, logger) for i in ids for logger in ("tinyapp", "gunicorn.access")}

            def arrived() -> set:
                return {(e.get("request_id"), e.get("logger")) for e in sink.received()} & wanted
            wait_until(lambda: arrived() == wanted, 60, "every record of the stalled period", 0.5)
    finally:
        sink.stop()


def test_sigterm_lets_in_flight_requests_finish(tmp_path):
    server = Gunicorn(tmp_path, GUNICORN_WORKERS=1, GUNICORN_WORKER_CLASS="gevent",
                      GUNICORN_GRACEFUL_TIMEOUT=10).start()
    took, statuses = stop_while_waiting(server, 10, 1.5)
    assert statuses == [200] * 10
    assert took < 5, f"the stop took {took:.1f} s; the requests in flight needed 1.5 s"
    assert server.output().count('"logger":"gunicorn.access","message":"GET /wait') == 10


def test_idle_keep_alive_connections_do_not_hold_the_stop(tmp_path):
    # Nginx keeps idle connections to the app; Gunicorn's gevent worker alone waited for each until
    # the graceful timeout (10 s here, 10.3 s measured before flaskobs/gevent_idle.py).
    server = Gunicorn(tmp_path, GUNICORN_WORKERS=2, GUNICORN_WORKER_CLASS="gevent",
                      GUNICORN_GRACEFUL_TIMEOUT=10).start()
    sessions = [requests.Session() for _ in range(6)]
    try:
        for session in sessions:  # each keeps its connection open after the answer
            assert session.get(server.url + "/hello", timeout=10).status_code == 200
        took, statuses = stop_while_waiting(server, 4, 1.0)
        assert statuses == [200] * 4
        assert took < 5, f"the stop took {took:.1f} s with idle keep-alive connections open\n{server.output()[-3000:]}"
        assert "idle keep-alive connections to stop sooner" in server.output()
    finally:
        for session in sessions:
            session.close()


def test_a_stop_right_after_a_start_is_not_lost(tmp_path):
    """A worker still booting (gevent patches itself first) ran the master's inherited signal
    handlers, which only queue a signal for the master: a SIGTERM then was lost, and the stop
    lasted the graceful timeout (11 stops in 15 like these, before post_fork in gunicorn_conf.py)."""
    for attempt in range(5):
        server = Gunicorn(tmp_path / str(attempt), GUNICORN_WORKERS=2, GUNICORN_WORKER_CLASS="gevent",
                          GUNICORN_GRACEFUL_TIMEOUT=10).start()  # returns once one worker answers
        sessions = [requests.Session() for _ in range(6)]
        try:
            for session in sessions:
                assert session.get(server.url + "/hello", timeout=10).status_code == 200
            took = server.stop()
        finally:
            for session in sessions:
                session.close()
        assert took < 5, f"stop {attempt} took {took:.1f} s\n{server.output()[-2000:]}"
