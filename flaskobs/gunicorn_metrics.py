"""The Gunicorn master's side of metrics: serve, fold in dead workers, report workers.

Runs only in the master (from gunicorn_conf.py hooks). Three jobs:
- Serve the merged multiprocess view on METRICS_PORT, never routed by Nginx.
- Keep scrape time bounded under worker churn. prometheus_client keeps every dead worker's
  counter and histogram files forever (client_python #204, #367: thousands of files, scrapes
  of 10-40 s). When a worker exits, its files are added into one archive file per type,
  then deleted. The scrape and the fold share one lock, so a scrape sees the worker's
  values either in its own file or in the archive, never both: counters stay exact and
  monotonic, and the directory holds (live workers + 1) files per type.
- Replace the process metrics that multiprocess mode loses: live and configured workers,
  worker exits by reason, per-worker resident memory and CPU time (read from /proc by the master),
  and the log shipper's queued backlog.

Folding reads and writes prometheus_client's files with its MmapedDict (and its private
`_positions`) and relies on the `{type}_{mode}_{pid}.db` naming: prometheus-client is pinned
exactly, and tests/unit/test_upstream_contract.py names what to review when that pin moves.
"""

import glob
import os
import threading

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

# Imported here, never lazily in the scrape thread: a worker forked while that thread held
# an import lock would deadlock on its first import of the same module.
from flaskobs import exemplars
from flaskobs.queue_backlog import backlog_of

_LOCK = threading.Lock()
_SUMMED = ("counter", "histogram", "summary")
_GAUGE_MERGE = {"max": max, "min": min, "sum": lambda a, b: a + b}
_archives: dict[str, MmapedDict] = {}
# Why workers exited. Planned: recycled (max_requests), stopped (the master asked: reload, scale
# down, shutdown). Unplanned: timeout (the master killed a stuck worker), killed (ended by a signal
# without cleaning up: OOM killer, SIGKILL, a crash in C), error (an exception ended the worker).
EXIT_REASONS = ("recycled", "stopped", "timeout", "killed", "error")
_exits = dict.fromkeys(EXIT_REASONS, 0)
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


def _archive(directory: str, name: str) -> MmapedDict:
    path = os.path.join(directory, name)
    archive = _archives.get(path)
    if archive is None:
        archive = _archives[path] = MmapedDict(path)
    return archive


def _sized(path: str) -> bool:
    """Whether a worker's metrics file has its header yet. MmapedDict creates the file, then sizes
    it: a scrape or a fold between the two finds it empty, holding no value yet, and
    prometheus_client's reader fails on it (struct.error), and the scrape with it; for a worker
    killed in that moment its fold failed too, leaving the file to fail every later scrape."""
    try:
        return os.path.getsize(path) >= 8  # the used-bytes count and its padding
    except FileNotFoundError:  # a live gauge's file, removed by mark_process_dead meanwhile
        return False


def fold_dead_worker(pid: int, directory: str) -> int:
    """Add a dead worker's values into the archive files and delete its own; return files folded."""
    mark_process_dead(pid, directory)
    folded = 0
    with _LOCK:
        exemplars.fold_dead_worker(pid, directory)
        for path in glob.glob(os.path.join(directory, f"*_{pid}.db")):
            parts = os.path.basename(path)[:-3].split("_")
            kind, mode = parts[0], parts[1] if len(parts) > 2 else ""
            if kind in _SUMMED:
                target, merge = f"{kind}_archive.db", (lambda a, b: a + b)
            elif kind == "gauge" and mode in _GAUGE_MERGE:
                target, merge = f"gauge_{mode}_archive.db", _GAUGE_MERGE[mode]
            else:
                target, merge = None, None  # per-pid or most-recent gauges die with their worker
            if target is not None and _sized(path):
                archive = _archive(directory, target)
                for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(path):
                    known = key in archive._positions  # read_value() would create it as 0.0
                    old, old_ts = archive.read_value(key)
                    archive.write_value(key, merge(old, value) if known else value, max(timestamp, old_ts))
            os.unlink(path)
            folded += 1
    return folded


class _LockedMultiProcessCollector(MultiProcessCollector):
    """The workers' merged values, with their exemplars (exemplars.py)."""

    def __init__(self, directory: str):
        super().__init__(None, directory)
        self.directory = directory

    def collect(self):
        with _LOCK:
            # MultiProcessCollector.collect's own listing, less files still being created.
            files = [path for path in glob.glob(os.path.join(self.directory, "*.db")) if _sized(path)]
            found = exemplars.collect(self.directory)
            return list(exemplars.attach(self.merge(files, accumulate=True), found))


def proc_stats(pid: int) -> tuple[float, float] | None:
    """Return (resident bytes, cpu seconds) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/statm", "rb") as f:
            resident = int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
    return resident, cpu


UNLIMITED = 2**60  # cgroup v1 says "no limit" with a number near 2**63


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _stat(text: str | None, key: str) -> int:
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.isdigit():
            return int(value)
    return 0


def cgroup_memory(root: str = "/sys/fs/cgroup") -> tuple[int | None, int | None]:
    """(working set, limit) in bytes of the cgroup this process runs in (its container), as the
    kernel's OOM killer sees it: usage less inactive page cache, as cAdvisor counts it. None
    where unknown; the limit is None when there is none. cgroup v2, else v1."""
    usage, limit = _read(f"{root}/memory.current"), _read(f"{root}/memory.max")
    inactive = "inactive_file"
    stat = _read(f"{root}/memory.stat")
    if usage is None:  # v1
        usage, limit = _read(f"{root}/memory/memory.usage_in_bytes"), _read(f"{root}/memory/memory.limit_in_bytes")
        inactive, stat = "total_inactive_file", _read(f"{root}/memory/memory.stat")
    working_set = max(int(usage) - _stat(stat, inactive), 0) if usage and usage.isdigit() else None
    bound = int(limit) if limit and limit.isdigit() and int(limit) < UNLIMITED else None
    return working_set, bound


class WorkerCollector:
    """The server's workers: `live()` their pids, `configured()` how many it keeps, `exits` counts
    by reason. Gunicorn's arbiter here; uWSGI's from /proc (uwsgi_metrics.py)."""

    def __init__(self, live, configured, exits: dict, log_queue_dir: str | None):
        self.live, self.configured, self.exits = live, configured, exits
        self.log_queue_dir = log_queue_dir

    def collect(self):
        workers = self.live()
        yield GaugeMetricFamily("gunicorn_workers", "Live Gunicorn worker processes", value=len(workers))
        yield GaugeMetricFamily("gunicorn_workers_configured", "Workers Gunicorn keeps running",
                                value=self.configured())
        exits = CounterMetricFamily("gunicorn_worker_exits", "Workers that exited, by reason", labels=["reason"])
        for reason in EXIT_REASONS:
            exits.add_metric([reason], self.exits[reason])
        yield exits
        memory = GaugeMetricFamily("gunicorn_worker_resident_memory_bytes", "Resident memory per worker",
                                   labels=["pid"])
        cpu = CounterMetricFamily("gunicorn_worker_cpu_seconds", "CPU time per worker", labels=["pid"])
        for pid in sorted(workers):
            stats = proc_stats(pid)
            if stats:
                memory.add_metric([str(pid)], stats[0])
                cpu.add_metric([str(pid)], stats[1])
        yield memory
        yield cpu
        master = proc_stats(os.getpid())
        if master:
            yield GaugeMetricFamily("gunicorn_master_resident_memory_bytes", "Resident memory of the master",
                                    value=master[0])
        working_set, limit = cgroup_memory()
        if working_set is not None:
            yield GaugeMetricFamily("app_container_memory_working_set_bytes",
                                    "Memory of the app's container (cgroup) the OOM killer counts", value=working_set)
        if limit is not None:
            yield GaugeMetricFamily("app_container_memory_limit_bytes", "Memory limit of the app's container (cgroup)",
                                    value=limit)
        files = glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db"))
        yield GaugeMetricFamily("gunicorn_metrics_files", "Files in the multiprocess metrics directory",
                                value=len(files))
        if self.log_queue_dir:
            backlog = sum(backlog_of(p) for p in glob.glob(os.path.join(self.log_queue_dir, "slot-*.db")))
            yield GaugeMetricFamily("app_log_queue_events", "Log events queued for Logstash, not yet delivered",
                                    value=backlog)


class _Labelled:
    """Other collectors' metrics with `labels` added to every sample (a sample's own label of the
    same name wins): which node and replica served them, when an orchestrator runs several."""

    def __init__(self, collectors, labels: dict[str, str]):
        self.collectors = collectors
        self.labels = labels

    def collect(self):
        for collector in self.collectors:
            for metric in collector.collect():
                if self.labels:
                    metric.samples = [s._replace(labels={**self.labels, **s.labels}) for s in metric.samples]
                yield metric


def start(arbiter, port: int, host: str, log_queue_dir: str | None = None,
          labels: dict[str, str] | None = None) -> None:
    """Start the metrics server in the master (call from `when_ready`) on host:port
    (METRICS_HOST, METRICS_PORT: bind.py)."""
    registry = CollectorRegistry()
    collectors = [_LockedMultiProcessCollector(os.environ["PROMETHEUS_MULTIPROC_DIR"]),
                  WorkerCollector(lambda: set(arbiter.WORKERS), lambda: arbiter.num_workers, _exits, log_queue_dir)]
    registry.register(_Labelled(collectors, labels or {}))
    start_http_server(port, host, registry=registry)


def _reason_path(directory: str, pid: int) -> str:
    return os.path.join(directory, f"exit-{pid}.reason")  # not *.db: the collector never reads it


def note_exit_reason(worker) -> None:
    """In the worker, as it leaves (call from `worker_exit`): say why, for the master to count.
    A worker that leaves its loop was told to (alive is False); one that still wants to run is
    leaving on an exception. Nothing is written when the kernel or a signal ends it."""
    if worker.alive:
        reason = "error"
    elif worker.nr >= worker.max_requests:
        reason = "recycled"
    else:
        reason = "stopped"
    with open(_reason_path(os.environ["PROMETHEUS_MULTIPROC_DIR"], worker.pid), "w") as f:
        f.write(reason)


def noted_reason(pid: int, directory: str) -> str | None:
    """The reason an exited worker noted (note_exit_reason), removed once read; None without one."""
    path = _reason_path(directory, pid)
    try:
        with open(path) as f:
            noted = f.read().strip()
        os.unlink(path)
    except OSError:
        return None
    return noted if noted in EXIT_REASONS else None


def exit_reason(worker, directory: str) -> str:
    """In the master, once the worker is reaped: why it exited (see EXIT_REASONS)."""
    noted = noted_reason(worker.pid, directory)
    if worker.aborted:  # the master sent SIGABRT, then SIGKILL, to a worker past its timeout
        return "timeout"
    return noted or "killed"


def worker_exited(worker) -> None:
    """Account for an exited worker (call from `child_exit`)."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    _exits[exit_reason(worker, directory)] += 1
    fold_dead_worker(worker.pid, directory)
