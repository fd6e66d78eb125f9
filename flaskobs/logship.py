"""Ship log records to Logstash with python-logstash-async, losing none.

What the library's defaults get wrong, and what this module changes (README, "How to configure
logs"; figures in docs/benchmarks.md). It overrides private methods of python-logstash-async
4.1.0, which requirements pin exactly; tests/unit/test_upstream_contract.py fails, naming
each one, when a new version changes what is overridden here.
- One SQLite queue file per worker *slot*, claimed with flock: workers never share a file
  (sharing lets one worker delete another's in-flight events), a replacement worker adopts
  its predecessor's backlog, and orphaned files of vanished slots are merged, not forgotten.
- A persistent WAL connection instead of a new connection, schema check and EXCLUSIVE
  commit per event (~0.6 ms each, the ~550 events/s ceiling).
- Rows marked in flight by a process that died are put back in the queue on open,
  instead of being deleted unsent by the next flush.
- A batch counts as delivered only when Logstash has read it to the end and closed the
  connection; a refused connection fails at once instead of blocking the sender 30 s.
- A record logged while a request is handled is written to the queue file by the request's own
  thread before the response is sent (one transaction per request that logged), not left in
  memory for the sender thread: a worker killed right after answering loses nothing it logged.
- The backlog is bounded (LOG_QUEUE_MAX_EVENTS): past it new records still reach stdout
  but are not queued for shipping, and app_log_events_dropped_total counts them.
- Delivery is counted (metrics.ShippingCounters): events confirmed, and batches Logstash did
  not take, so "Logstash unreachable" is an alert, not a guess from the backlog.
"""

import fcntl
import glob
import logging
import os
import queue
import socket
import sqlite3
import sys
import threading

from logstash_async.constants import constants

# Tuned before the first emit, which is when the library reads them.
constants.SOCKET_TIMEOUT = 3.0               # connect/send; keeps shutdown inside graceful_timeout
constants.SOCKET_CLOSE_WAIT_TIMEOUT = 5.0    # here: how long a sent batch waits for the peer's close
constants.QUEUE_CHECK_INTERVAL = 0.25        # idle poll; shutdown interrupts it
constants.QUEUED_EVENTS_FLUSH_INTERVAL = 0.5
constants.QUEUED_EVENTS_FLUSH_COUNT = 1000   # send when this many wait, or after the interval
constants.QUEUED_EVENTS_BATCH_SIZE = 2000    # events per connection
constants.ERROR_LOG_RATE_LIMIT = "5 per minute"

from logstash_async.database import DATABASE_SCHEMA_STATEMENTS, DatabaseCache  # noqa: E402
from logstash_async.handler import AsynchronousLogstashHandler  # noqa: E402
from logstash_async.transport import TcpTransport  # noqa: E402
from logstash_async.worker import LogProcessingWorker  # noqa: E402

from .settings import Settings  # noqa: E402

MAX_SLOTS = 256
# A queued event, as the sender thread and the request threads (RequestWriter) both write it.
INSERT_EVENT = "INSERT INTO event (event_text, pending_delete, entry_date) VALUES (?, 0, datetime('now'))"
_claimed: dict[str, tuple[int, str, int]] = {}  # directory -> (pid, db path, lock fd)


def claim_slot(directory: str) -> str:
    """Lock the first free slot in `directory` for this process's lifetime; return its DB path."""
    pid = os.getpid()
    held = _claimed.get(directory)
    if held and held[0] == pid:
        return held[1]
    os.makedirs(directory, exist_ok=True)
    for i in range(MAX_SLOTS):
        fd = os.open(os.path.join(directory, f"slot-{i}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        path = os.path.join(directory, f"slot-{i}.db")
        _claimed[directory] = (pid, path, fd)
        return path
    raise RuntimeError(f"LOG_QUEUE_DIR={directory}: all {MAX_SLOTS} queue slots are locked")


def adopt_orphans(directory: str, own_db: str) -> int:
    """Move the events of every unlocked slot file into `own_db`; return how many moved."""
    moved = 0
    for other in sorted(glob.glob(os.path.join(directory, "slot-*.db"))):
        if other == own_db:
            continue
        fd = os.open(other[:-3] + ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live worker owns it
        try:
            conn = _connect(own_db)
            try:
                conn.execute("ATTACH DATABASE ? AS orphan", (other,))
                tables = conn.execute("SELECT name FROM orphan.sqlite_master WHERE name='event'").fetchall()
                if tables:
                    with conn:
                        cur = conn.execute(
                            "INSERT INTO main.event (event_text, pending_delete, entry_date) "
                            "SELECT event_text, 0, entry_date FROM orphan.event ORDER BY event_id")
                        moved += cur.rowcount
                conn.execute("DETACH DATABASE orphan")
            finally:
                conn.close()
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(other + suffix):
                    os.unlink(other + suffix)
        finally:
            os.close(fd)
    return moved


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=constants.DATABASE_TIMEOUT)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash; fsync per checkpoint
    for statement in DATABASE_SCHEMA_STATEMENTS:
        conn.execute(statement)
    conn.commit()
    return conn


class DurableQueue(DatabaseCache):
    """The library's SQLite cache on one long-lived connection, owned by one process."""

    def __init__(self, path, event_ttl=None):
        super().__init__(path, event_ttl)
        self.pending = 0
        self.pending_lock = threading.Lock()  # request threads add to it too (RequestWriter)

    def _open(self):
        if self._connection is None:
            self._connection = _connect(self._database_path)
            with self._connection as conn:
                # Rows a dead process had in flight were never confirmed: send them again.
                conn.execute("UPDATE event SET pending_delete = 0 WHERE pending_delete = 1")
            self.pending = self._connection.execute("SELECT count(*) FROM event").fetchone()[0]

    def _close(self):
        pass  # keep the connection; close() ends it

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def add_event(self, event):
        self.add_events([event])

    def add_events(self, events: list) -> None:
        """Insert a batch in one transaction: one commit instead of one per event."""
        with self._connect() as conn:
            conn.executemany(INSERT_EVENT, [(e,) for e in events])
        self.count(len(events))

    def count(self, added: int) -> None:
        with self.pending_lock:
            self.pending += added

    def delete_queued_events(self):
        with self._connect() as conn:
            self.count(-conn.execute("DELETE FROM event WHERE pending_delete = 1").rowcount)

    def expire_events(self):
        if self._event_ttl is None:
            return
        with self._connect() as conn:
            expired = conn.execute("DELETE FROM event WHERE entry_date < datetime('now', ?)",
                                   (f"-{int(self._event_ttl)} seconds",)).rowcount
        if expired:
            self.count(-expired)
            logging.getLogger("LogProcessingWorker").warning(
                "dropped %d events older than LOG_EVENT_TTL=%ss", expired, self._event_ttl)


class _Worker(LogProcessingWorker):
    """The library's worker, moving queued records to disk in batches."""

    BATCH = 500

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A C queue: put() on the request path costs a fraction of PriorityQueue's locking
        # (records were ordered by their bytes there anyway, not by time).
        self._queue = queue.SimpleQueue()

    def _fetch_event(self):
        # Raises queue.Empty when there is nothing, as the library's loop expects.
        batch = [self._queue.get(block=False)]
        while len(batch) < self.BATCH:
            try:
                batch.append(self._queue.get(block=False))
            except queue.Empty:
                break
        self._event = batch

    def _write_event_to_database(self):
        self._database.add_events(self._event)
        self._non_flushed_event_count += len(self._event)

    def _requeue_event(self):
        for event in self._event or ():
            self._queue.put(event)

    def _setup_database(self):
        self._database = DurableQueue(path=self._database_path, event_ttl=self._event_ttl)
        self._non_flushed_event_count = self._database.get_non_flushed_event_count()

    def run(self):
        try:
            super().run()
        finally:
            if self._database is not None:
                self._database.close()

    def backlog(self) -> int:
        database = self._database
        return self._queue.qsize() + (database.pending if database is not None else 0)


def os_thread_local():
    """A threading.local per OS thread. Under gevent's monkey patching threading.local is per
    greenlet, which would open a queue connection (~0.5 ms) for every client connection; greenlets
    of one thread can share one, as sqlite3 never yields inside a write."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return monkey.get_original("threading", "local")()
    return threading.local()


class RequestWriter:
    """Writes the records a request logged into the queue file, from the request's thread, before
    the response is sent. One connection per OS thread (gthread workers have several); the sender
    thread picks the rows up at its next flush, as it does its own."""

    def __init__(self, path: str):
        self.path = path
        self._local = os_thread_local()

    def write(self, events: list[bytes]) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        with conn:
            conn.executemany(INSERT_EVENT, [(e,) for e in events])


class AckedTcpTransport(TcpTransport):
    """json_lines over TCP, one connection per batch, confirmed by the peer's orderly close.

    After the batch we half-close (EOF). Logstash's tcp input reads up to EOF and then closes
    its side; seeing that FIN proves it read every byte. A reset or a silent peer raises, and
    the batch stays queued: at worst sent twice (each event carries event_id), never lost.
    """

    counters = None  # metrics.ShippingCounters, when metrics are on

    def send(self, events, use_logging=False):
        try:
            super().send(events, use_logging=use_logging)
        except BaseException:
            if self.counters is not None:
                self.counters.failed.inc()
            raise
        if self.counters is not None:
            self.counters.shipped.inc(len(events))

    def _send(self, events):
        self._sock.sendall(b"".join(events))
        self._sock.shutdown(socket.SHUT_WR)
        self._sock.settimeout(constants.SOCKET_CLOSE_WAIT_TIMEOUT)
        while self._sock.recv(4096):  # json_lines peers send nothing back; b"" is their FIN
            pass

    def _close(self, force=False):
        # Upstream waits for the send buffer here, even on a refused socket (30 s by default).
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


class ShippingHandler(AsynchronousLogstashHandler):
    """AsynchronousLogstashHandler with the worker, cache and transport above, and a bound."""

    def __init__(self, *, max_events: int, counters=None, **kwargs):
        super().__init__(**kwargs)
        self.max_events = max_events
        self._dropped = counters.dropped if counters is not None else None
        self._held = threading.local()  # .events: the current request's records, until persist()
        self._writer = RequestWriter(self._database_path)

    def hold(self) -> None:
        """From now until persist(), this thread's records wait for the request's end."""
        self._held.events = []

    def persist(self) -> None:
        """Write the records held since hold() to disk now (the response is not sent yet)."""
        events, self._held.events = getattr(self._held, "events", None), None
        if not events:
            return
        worker = AsynchronousLogstashHandler._worker_thread
        try:
            self._writer.write(events)
        except sqlite3.Error:
            # The file is unusable right now (locked past the timeout, disk full): the sender
            # thread retries them from memory, as it does every record logged outside a request.
            for event in events:
                worker.enqueue_event(event)
            return
        database = getattr(worker, "_database", None)
        if isinstance(database, DurableQueue):
            database.count(len(events))

    def backlog(self) -> int:
        worker = AsynchronousLogstashHandler._worker_thread
        if isinstance(worker, _Worker) and worker.is_alive():
            return worker.backlog()
        return 0

    def emit(self, record):
        if self.backlog() >= self.max_events:
            if self._dropped is not None:
                self._dropped.inc()
            return
        held = getattr(self._held, "events", None)
        if held is None:
            super().emit(record)
            return
        try:
            held.append(self._format_record(record))
        except Exception:  # as the library's emit: a record that cannot be formatted is reported
            self.handleError(record)

    def _start_worker_thread(self):
        if self._worker_thread_is_running():
            return
        AsynchronousLogstashHandler._worker_thread = _Worker(
            host=self._host, port=self._port, transport=self._transport,
            ssl_enable=self._ssl_enable, ssl_verify=self._ssl_verify,
            ssl_verify_flags=self._ssl_verify_flags, keyfile=self._keyfile,
            certfile=self._certfile, ca_certs=self._ca_certs,
            database_path=self._database_path, cache=None, event_ttl=self._event_ttl)
        AsynchronousLogstashHandler._worker_thread.start()

    def start(self):
        """Start the sender now, so a backlog left by a previous process drains without new logs."""
        self._setup_transport()
        self._start_worker_thread()


def tcp_transport(host: str, port: int, counters=None) -> AckedTcpTransport:
    """The transport to Logstash's tcp input: plain TCP, each batch acknowledged (see the class)."""
    transport = AckedTcpTransport(host, port, ssl_enable=False, ssl_verify=True, ssl_verify_flags=None,
                                  keyfile=None, certfile=None, ca_certs=None, timeout=constants.SOCKET_TIMEOUT)
    transport.counters = counters
    return transport


def install(settings: Settings, formatter, counters=None) -> ShippingHandler:
    directory = settings.log_queue_dir
    db_path = claim_slot(directory)
    adopted = adopt_orphans(directory, db_path)
    host, port = settings.logstash_host, settings.logstash_port
    transport = tcp_transport(host, port, counters)
    handler = ShippingHandler(host=host, port=port, database_path=db_path, transport=transport,
                              event_ttl=settings.log_event_ttl, max_events=settings.log_queue_max_events,
                              counters=counters)
    handler.setFormatter(formatter)
    # The worker's own warnings must not loop back into the queue they are about.
    worker_log = logging.getLogger("LogProcessingWorker")
    worker_log.propagate = False
    if not worker_log.handlers:
        stderr = logging.StreamHandler()
        stderr.setFormatter(formatter)
        worker_log.addHandler(stderr)
    handler.start()
    if adopted:
        logging.getLogger(__name__).info("adopted %d queued log events from stopped workers", adopted)
    return handler

