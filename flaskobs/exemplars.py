"""Exemplars under Gunicorn: the latest request per histogram bucket and per counter series,
which prometheus_client's multiprocess mode does not keep (client_python #648).

Each worker writes its own file in PROMETHEUS_MULTIPROC_DIR, `exemplars_{pid}.bin` (not *.db:
prometheus_client's collector never reads it). The file holds fixed-size slots, one per series
(sample name and labels, bucket included), rewritten in place: it grows with the series, never
with the requests, and stops at MAX_SLOTS. Each slot carries a CRC of its contents, so the
master, which reads while workers write, skips a slot caught half-written (and reads it again).
When a worker exits the master keeps its exemplars in memory (newest wins) and deletes its file,
like the counters' archive (gunicorn_metrics.py). The master attaches the newest exemplar of each
series to its sample; prometheus_client's OpenMetrics encoder writes them when the scraper asks
for OpenMetrics, and its text format leaves them out.

Writes are sampled per slot: at most one every MIN_INTERVAL seconds, the first one always. A
scrape every 15 s shows the latest sampled request, and a busy series costs one write in many.
"""

import glob
import json
import mmap
import os
import struct
import threading
import zlib

from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

SLOT_SIZE = 512
MAX_SLOTS = 4096  # 2 MiB a worker at most
MIN_INTERVAL = 0.1
LABEL_BUDGET = 128  # OpenMetrics: an exemplar's label names and values, together, in characters
# A slot: the crc32 of what follows it, then key length, labels length, value, timestamp, key, labels.
_CRC = struct.Struct("<I")
_FIELDS = struct.Struct("<HHdd")
_HEAD_SIZE = _CRC.size + _FIELDS.size
_FIRST_SLOTS = 64
_PREFIX, _SUFFIX = "exemplars_", ".bin"


def labels(request_id: str | None, trace_id: str | None) -> bytes | None:
    """The exemplar's labels (JSON), inside OpenMetrics's budget: the request id with the trace
    id when both fit, else whichever fits, else None. Both are validated ids (request_ids.py,
    trace_context.py), so no character needs escaping: written by a template, not json.dumps
    (a third of the cost of an exemplar)."""
    used = 0
    if request_id and len(request_id) + 10 > LABEL_BUDGET:  # 10: len("request_id")
        request_id = None
    if request_id:
        used = len(request_id) + 10
    if trace_id and used + len(trace_id) + 8 > LABEL_BUDGET:  # 8: len("trace_id")
        trace_id = None
    if request_id and trace_id:
        return f'{{"request_id":"{request_id}","trace_id":"{trace_id}"}}'.encode()
    if request_id:
        return f'{{"request_id":"{request_id}"}}'.encode()
    if trace_id:
        return f'{{"trace_id":"{trace_id}"}}'.encode()
    return None


def series_key(name: str, labels_: dict[str, str]) -> bytes:
    """How a sample is named in the file: its name and labels, as the master's samples have them."""
    return json.dumps([name, labels_], sort_keys=True, separators=(",", ":")).encode()


def bucket_keys(name: str, labels_: dict[str, str], bounds) -> list[bytes]:
    """A histogram child's bucket keys, in bound order (+Inf last), `le` as prometheus_client writes it."""
    return [series_key(f"{name}_bucket", {**labels_, "le": floatToGoString(b)}) for b in (*bounds, float("inf"))]


class ExemplarFile:
    """One worker's exemplars: a slot per series, rewritten in place (any thread may write)."""

    def __init__(self, directory: str, pid: int):
        self.path = os.path.join(directory, f"{_PREFIX}{pid}{_SUFFIX}")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self._lock = threading.Lock()
        self._slots: dict[bytes, int] = {}
        self._written: list[float] = []  # when each slot was last written
        self._map: mmap.mmap | None = None
        self._grow(_FIRST_SLOTS)

    def _grow(self, slots: int) -> None:
        # Space reserved up front: a write into a sparse page of a full tmpfs would be a SIGBUS,
        # killing the worker; here it is an OSError when the file is made or grows.
        os.posix_fallocate(self._fd, 0, slots * SLOT_SIZE)
        if self._map is not None:
            self._map.close()
        self._map = mmap.mmap(self._fd, slots * SLOT_SIZE)
        self._capacity = slots

    def due(self, key: bytes, now: float) -> bool:
        """Whether a write to `key` now would be kept (the sampling, checked before any work)."""
        slot = self._slots.get(key)
        return slot is None or now - self._written[slot] >= MIN_INTERVAL

    def write(self, key: bytes, labels_: bytes, value: float, now: float) -> bool:
        """Record an exemplar for the series `key`; False when sampled out or out of room."""
        if _HEAD_SIZE + len(key) + len(labels_) > SLOT_SIZE:
            return False
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                if len(self._slots) >= MAX_SLOTS:
                    return False
                slot = self._slots[key] = len(self._slots)
                self._written.append(float("-inf"))
                if slot >= self._capacity:
                    self._grow(min(self._capacity * 2, MAX_SLOTS))
            elif now - self._written[slot] < MIN_INTERVAL:
                return False
            self._written[slot] = now
            body = _FIELDS.pack(len(key), len(labels_), value, now) + key + labels_
            offset = slot * SLOT_SIZE
            self._map[offset:offset + _CRC.size + len(body)] = _CRC.pack(zlib.crc32(body)) + body
            return True


_writer: ExemplarFile | None = None
_writer_lock = threading.Lock()


def _forget_writer() -> None:
    global _writer, _writer_lock
    _writer, _writer_lock = None, threading.Lock()  # the parent's belongs to the parent


if hasattr(os, "register_at_fork"):  # not on Windows (Waitress), where nothing forks
    os.register_at_fork(after_in_child=_forget_writer)


def writer(directory: str) -> ExemplarFile:
    """This process's exemplar file, made on first use (in the worker, after the fork)."""
    global _writer
    found = _writer
    if found is None:
        with _writer_lock:
            if _writer is None:
                _writer = ExemplarFile(directory, os.getpid())
            found = _writer
    return found


# The master's side.

def _read_slot(fd: int, offset: int):
    """(key, labels, value, timestamp) of a slot, None if empty; read again while half-written."""
    for _ in range(5):
        data = os.pread(fd, SLOT_SIZE, offset)
        if len(data) < _HEAD_SIZE:
            return None
        (crc,), (key_len, labels_len, value, stamp) = _CRC.unpack_from(data), _FIELDS.unpack_from(data, _CRC.size)
        if key_len == 0:
            return None
        end = _HEAD_SIZE + key_len + labels_len
        if end <= len(data) and zlib.crc32(data[_CRC.size:end]) == crc:
            return data[_HEAD_SIZE:_HEAD_SIZE + key_len], data[_HEAD_SIZE + key_len:end], value, stamp
    return None  # still changing: its next write comes with a later scrape


def read_file(path: str) -> dict[bytes, tuple[bytes, float, float]]:
    """Every whole slot of one worker's file: series key -> (labels, value, timestamp)."""
    found = {}
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # the worker exited and was folded meanwhile
        return found
    try:
        size = os.fstat(fd).st_size
        for offset in range(0, size - SLOT_SIZE + 1, SLOT_SIZE):
            slot = _read_slot(fd, offset)
            if slot is not None:
                found[slot[0]] = slot[1:]
    finally:
        os.close(fd)
    return found


_archive: dict[bytes, tuple[bytes, float, float]] = {}  # exited workers' exemplars (the master's)


def _newest(into: dict, found: dict) -> None:
    for key, exemplar in found.items():
        known = into.get(key)
        if known is None or exemplar[2] >= known[2]:
            into[key] = exemplar


def fold_dead_worker(pid: int, directory: str) -> None:
    """Keep an exited worker's exemplars (newest per series wins) and delete its file.
    Call under the lock the scrape holds."""
    path = os.path.join(directory, f"{_PREFIX}{pid}{_SUFFIX}")
    _newest(_archive, read_file(path))
    if len(_archive) > MAX_SLOTS:  # series that no live worker has any more go first: the oldest
        for key, _ in sorted(_archive.items(), key=lambda item: item[1][2])[:len(_archive) - MAX_SLOTS]:
            del _archive[key]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def collect(directory: str) -> dict[tuple, Exemplar]:
    """The newest exemplar of each series, across live workers and exited ones, by
    (sample name, sorted label pairs)."""
    merged = dict(_archive)
    for path in glob.glob(os.path.join(directory, f"{_PREFIX}*{_SUFFIX}")):
        _newest(merged, read_file(path))
    found = {}
    for key, (labels_, value, stamp) in merged.items():
        try:
            name, series_labels = json.loads(key)
            found[(name, tuple(sorted(series_labels.items())))] = Exemplar(json.loads(labels_), value, stamp)
        except (ValueError, TypeError, AttributeError):
            continue  # not ours to serve
    return found


# Where OpenMetrics allows an exemplar (its encoder refuses any other, failing the whole scrape).
_CARRIES = {"histogram": "_bucket", "counter": "_total"}


def attach(metrics, exemplars: dict[tuple, Exemplar]):
    """`metrics` with each sample that has an exemplar carrying it."""
    for metric in metrics:
        suffix = _CARRIES.get(metric.type)
        if exemplars and suffix:
            metric.samples = [
                s._replace(exemplar=exemplars.get((s.name, tuple(sorted(s.labels.items())))) or s.exemplar)
                if s.name.endswith(suffix) else s
                for s in metric.samples]
        yield metric
