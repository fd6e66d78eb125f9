"""Log shipping from real Gunicorn workers (the tiny app) to a JsonLinesSink (a TEST DOUBLE for Logstash's
tcp/json_lines input): through an outage, a restart of the app, and a flapping receiver."""

import glob
import os
import signal
import threading
import time
import uuid

import pytest
import requests
from support.gunicorn import Gunicorn, free_port
from support.sink import JsonLinesSink
from support.uwsgi import servers
from support.waiting import wait_until

from flaskobs import queue_backlog

FIELDS = ("@timestamp", "event_id", "level", "logger", "message", "request_id", "method", "endpoint", "path",
          "remote_addr", "user_agent", "service", "environment", "version", "pid")


def post_items(server: Gunicorn, ids: list[str]) -> None:
    with requests.Session() as session:
        for request_id in ids:
            response = session.post(server.url + "/items",
                                    headers={"X-Request-ID": request_id, "User-Agent": "shipping-test"}, timeout=10)
            assert response.status_code == 201


def delivered(sink: JsonLinesSink, ids: set[str]) -> dict[tuple[str, str], int]:
    """How many times each (request id, logger) pair of ours reached the sink."""
    counts: dict[tuple[str, str], int] = {}
    for event in sink.events:
        if event.get("request_id") in ids:
            key = (event["request_id"], event["logger"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def expected(ids) -> set[tuple[str, str]]:
    # Each POST logs "item created" (tinyapp) and its access log line (gunicorn.access).
    return {(i, logger) for i in ids for logger in ("tinyapp", "gunicorn.access")}


def queued_on_disk(directory) -> int:
    return sum(queue_backlog.backlog_of(p) for p in glob.glob(os.path.join(directory, "slot-*.db")))


@pytest.mark.parametrize("Server", servers())
def test_outage_and_app_restart_lose_nothing(Server, tmp_path):
    port = free_port()  # nothing listens yet: Logstash is down
    env = {"LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": port, "GUNICORN_WORKERS": 3, "GUNICORN_GRACEFUL_TIMEOUT": 10,
           "LOG_SHIP_ACCESS": "true"}
    ids = [f"ship-{uuid.uuid4().hex}" for _ in range(60)]

    server = Server(tmp_path, **env).start()
    post_items(server, ids)
    # Graceful stop while Logstash refuses: workers persist their queue and leave promptly.
    took = server.stop()
    assert took < 10, f"shutdown took {took:.1f} s with Logstash down (graceful_timeout is 10 s)"
    assert queued_on_disk(tmp_path / "log-queue") >= 2 * len(ids)

    sink = JsonLinesSink(port).start()
    try:
        # A new app process (a container restart) picks the queue up from disk and delivers it.
        with Server(tmp_path, **env):
            wait_until(lambda: set(delivered(sink, set(ids))) >= expected(ids), 30, "every event at the sink")
            # Delivered and confirmed: nothing is left to send (twice, or at all).
            wait_until(lambda: queued_on_disk(tmp_path / "log-queue") == 0, 10, "an empty queue")
        counts = delivered(sink, set(ids))
        assert set(counts) == expected(ids)
        assert set(counts.values()) == {1}, "some events arrived more than once"
        assert not sink.bad_lines
        event = next(e for e in sink.events if e.get("request_id") == ids[0] and e["logger"] == "tinyapp")
        for field in FIELDS:
            assert event.get(field) not in (None, ""), field
        access = next(e for e in sink.events if e.get("request_id") == ids[0] and e["logger"] == "gunicorn.access")
        assert access["status"] == 201 and access["duration_ms"] > 0
    finally:
        sink.stop()


def test_flapping_receiver_loses_nothing(tmp_path):
    port = free_port()
    sink = JsonLinesSink(port).start()
    ids = [f"flap-{uuid.uuid4().hex}" for _ in range(150)]
    flaps = 0
    with Gunicorn(tmp_path, LOGSTASH_HOST="127.0.0.1", LOGSTASH_PORT=port, GUNICORN_WORKERS=3,
                  LOG_SHIP_ACCESS="true") as server:
        sender = threading.Thread(target=post_items, args=(server, ids))
        sender.start()
        while sender.is_alive() or flaps < 5:  # down and up again, several times, during delivery
            time.sleep(0.3)
            sink.stop()
            time.sleep(0.3)
            sink.start()
            flaps += 1
        sender.join()
        wait_until(lambda: set(delivered(sink, set(ids))) >= expected(ids), 30, "every event at the sink")
        wait_until(lambda: queued_on_disk(tmp_path / "log-queue") == 0, 10, "an empty queue")
    sink.stop()
    counts = delivered(sink, set(ids))
    assert set(counts) == expected(ids)
    assert set(counts.values()) == {1}, "some events arrived more than once"
    assert flaps >= 3 and sink.connections >= 2


@pytest.mark.parametrize("Server", servers())
def test_a_worker_killed_right_after_answering_loses_nothing_it_logged(Server, tmp_path):
    """The response is the acknowledgement: what the request logged was on disk before it was sent.
    Found by an adversarial run: the 'item created' line waited in memory and died with its worker."""
    port = free_port()  # Logstash is down throughout the kills
    ids = [f"kill-{uuid.uuid4().hex}" for _ in range(8)]
    with Server(tmp_path, LOGSTASH_HOST="127.0.0.1", LOGSTASH_PORT=port, GUNICORN_WORKERS=2) as server:
        for request_id in ids:
            workers = server.workers()
            response = requests.post(server.url + "/items", headers={"X-Request-ID": request_id}, timeout=10)
            assert response.status_code == 201
            for pid in workers:  # at once: whichever served it dies within a millisecond of answering
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda w=workers: len(server.workers() - w) == 2, 30, "two new workers")
        sink = JsonLinesSink(port).start()
        try:
            wait_until(lambda: {i for i, logger in delivered(sink, set(ids)) if logger == "tinyapp"} == set(ids),
                       30, "every acknowledged 'item created' line at the sink")
        finally:
            sink.stop()


def test_delivery_and_refusals_are_counted(tmp_path):
    # app_log_ship_failures_total is what LogstashUnreachable alerts on; shipped counts what arrived.
    port = free_port()  # nothing listens yet
    ids = [f"count-{uuid.uuid4().hex}" for _ in range(20)]
    with Gunicorn(tmp_path, LOGSTASH_HOST="127.0.0.1", LOGSTASH_PORT=port, GUNICORN_WORKERS=2,
                  LOG_SHIP_ACCESS="true") as server:
        post_items(server, ids)
        wait_until(lambda: server.value("app_log_ship_failures_total") >= 2, 20, "refused batches to be counted")
        assert server.value("app_log_events_shipped_total") == 0
        sink = JsonLinesSink(port).start()
        try:
            wait_until(lambda: set(delivered(sink, set(ids))) >= expected(ids), 30, "every event at the sink")
            wait_until(lambda: queued_on_disk(tmp_path / "log-queue") == 0, 10, "an empty queue")
            wait_until(lambda: server.value("app_log_events_shipped_total") == len(sink.events), 10,
                       f"shipped to read what the sink has ({len(sink.events)})")
            failures = server.value("app_log_ship_failures_total")
            post_items(server, ids[:1])
            wait_until(lambda: server.value("app_log_events_shipped_total") == len(sink.events) >= 2 * len(ids) + 2,
                       10, "the next request's events counted as shipped")
            assert server.value("app_log_ship_failures_total") == failures  # delivered: no new failure
        finally:
            sink.stop()
