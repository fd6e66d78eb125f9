"""The log shipper's queue: one file per worker slot, crash recovery, adoption, the bound."""

import logging
import multiprocessing
import sqlite3
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, Counter
from support.gunicorn import free_port
from support.waiting import wait_until

from flaskobs import logship, queue_backlog, settings
from flaskobs.metrics import ShippingCounters


def _claim_and_report(directory, conn):
    conn.send(logship.claim_slot(directory))
    conn.recv()  # hold the slot until told to exit


def _spawn_claimer(directory):
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_claim_and_report, args=(directory, child))
    proc.start()
    return proc, parent, parent.recv()


def test_live_processes_get_different_slots_and_a_freed_slot_is_reused(tmp_path):
    directory = str(tmp_path)
    first, first_conn, first_slot = _spawn_claimer(directory)
    second, second_conn, second_slot = _spawn_claimer(directory)
    assert first_slot != second_slot
    first_conn.send("exit")
    first.join(5)
    third, third_conn, third_slot = _spawn_claimer(directory)
    assert third_slot == first_slot  # the replacement adopts the freed slot and its backlog
    for proc, conn in ((second, second_conn), (third, third_conn)):
        conn.send("exit")
        proc.join(5)


def _queue_with(path, events):
    queue = logship.DurableQueue(str(path))
    for event in events:
        queue.add_event(event)
    return queue


def test_events_in_flight_when_a_process_died_are_sent_again(tmp_path):
    path = tmp_path / "slot-0.db"
    queue = _queue_with(path, [b"a\n", b"b\n", b"c\n"])
    in_flight = queue.get_queued_events()  # marked pending_delete, as during a send
    assert len(in_flight) == 3
    queue.close()  # the process dies before the send is confirmed
    reopened = logship.DurableQueue(str(path))
    reopened._open()
    assert reopened.pending == 3
    assert [row["event_text"] for row in reopened.get_queued_events()] == [b"a\n", b"b\n", b"c\n"]


def test_delete_removes_only_confirmed_events_and_keeps_the_count(tmp_path):
    queue = _queue_with(tmp_path / "slot-0.db", [b"a\n", b"b\n"])
    queue.get_queued_events()
    queue.add_event(b"c\n")
    queue.delete_queued_events()
    assert queue.pending == 1
    assert [row["event_text"] for row in queue.get_queued_events()] == [b"c\n"]


def test_orphaned_slot_files_are_merged_into_a_live_one(tmp_path):
    _queue_with(tmp_path / "slot-3.db", [b"old-1\n", b"old-2\n"]).close()
    own = logship.claim_slot(str(tmp_path))
    moved = logship.adopt_orphans(str(tmp_path), own)
    assert moved == 2
    assert not (tmp_path / "slot-3.db").exists()
    rows = sqlite3.connect(own).execute("SELECT event_text, pending_delete FROM event").fetchall()
    assert rows == [(b"old-1\n", 0), (b"old-2\n", 0)]


def test_backlog_counts_every_queued_event(tmp_path):
    _queue_with(tmp_path / "slot-0.db", [b"x\n"] * 4).close()
    assert queue_backlog.backlog_of(str(tmp_path / "slot-0.db")) == 4
    assert queue_backlog.backlog_of(str(tmp_path / "missing.db")) == 0


def shipping_counters() -> tuple[ShippingCounters, Callable[[str], float]]:
    """Real counters in a registry of their own, and a reader: count("dropped")."""
    registry = CollectorRegistry()
    counters = ShippingCounters(*(Counter(f"test_{n}", n, registry=registry) for n in ShippingCounters._fields))
    return counters, lambda name: registry.get_sample_value(f"test_{name}_total")


@pytest.fixture
def refused_port():
    return free_port()  # nothing listens: connections are refused


def test_full_queue_rejects_new_records_and_counts_them(tmp_path, refused_port):
    counters, count = shipping_counters()
    cfg = settings.load({"LOG_QUEUE_DIR": str(tmp_path), "LOGSTASH_HOST": "127.0.0.1",
                         "LOGSTASH_PORT": str(refused_port), "LOG_EVENT_TTL": "3600", "LOG_QUEUE_MAX_EVENTS": "100"})
    handler = logship.install(cfg, logging.Formatter("%(message)s"), counters)
    try:
        logger = logging.getLogger("test.bound")
        logger.propagate = False
        logger.addHandler(handler)
        for i in range(100):
            logger.warning("event %d", i)
        wait_until(lambda: handler.backlog() >= 100, 5, "100 events queued")
        for i in range(3):
            logger.warning("over the bound %d", i)
        assert handler.backlog() == 100
        assert count("dropped") == 3
        wait_until(lambda: count("failed") >= 1, 5, "the refused batch counted")
        assert count("shipped") == 0
    finally:
        logging.getLogger("test.bound").removeHandler(handler)
        handler.close()
    # What was accepted is on disk, waiting for Logstash.
    assert queue_backlog.backlog_of(logship.claim_slot(str(tmp_path))) == 100
