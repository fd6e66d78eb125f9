"""The metrics server under uWSGI: `python -m flaskobs.uwsgi_metrics HOST PORT MASTER_PID`, a process uWSGI's
master runs and restarts (--attach-daemon2, uwsgi_conf.py); what Gunicorn's master does for
Gunicorn (gunicorn_metrics.py), with the same code and the same series:

- the workers' merged multiprocess values, with exemplars, on HOST:PORT;
- a dead worker's files folded into the archive (looked for twice a second and before each
  scrape), so the directory stays small under churn and counters stay exact across respawns and SIGKILLs;
- live and configured workers, worker exits by reason, per-worker memory and CPU. The series
  keep their `gunicorn_` names, so the dashboards and alerts read them under either server.

The workers are the master's other children; a worker whose files are
there and whose process is gone has exited. Its reason: `stopped` or `recycled` as it noted them
(uwsgi_app.py), `killed` when it noted nothing (a signal, the OOM killer, harakiri's SIGKILL).
"""

import glob
import logging
import os
import re
import sys
import threading
import time

from prometheus_client import CollectorRegistry, start_http_server

from . import gunicorn_metrics
from .gunicorn_metrics import (
    EXIT_REASONS,
    WorkerCollector,
    _Labelled,
    _LockedMultiProcessCollector,
    _reason_path,
    noted_reason,
)
from .settings import deployment_labels, env_int

_FILE_PID = re.compile(r"_(\d+)\.db$")


def _children(parent: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != b"Z":
            found.add(int(entry))
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


class UwsgiWorkers:
    """What WorkerCollector asks of a server, read from /proc and the metrics directory."""

    def __init__(self, master: int, directory: str, configured: int):
        self.master, self.directory, self.configured = master, directory, configured
        self.exits = dict.fromkeys(EXIT_REASONS, 0)
        self._lock = threading.Lock()
        self._seen: set[int] = set()  # workers live at the last look: one may die before writing a file

    def live(self) -> set[int]:
        return _children(self.master) - {os.getpid()}

    def fold_dead(self) -> None:
        """Fold and count every worker whose files remain and whose process is gone."""
        with self._lock:
            live = self.live() | {os.getpid()}
            pids = {int(m.group(1)) for path in glob.glob(os.path.join(self.directory, "*_*.db"))
                    if (m := _FILE_PID.search(path))}
            pids |= {int(p) for p in re.findall(r"exit-(\d+)\.reason", " ".join(os.listdir(self.directory)))}
            pids |= self._seen
            self._seen = live - {os.getpid()}
            for pid in sorted(pids - live):
                if _running(pid):
                    continue  # started after the listing above, or not ours: never fold a live file
                self.exits[noted_reason(pid, self.directory) or "killed"] += 1
                gunicorn_metrics.fold_dead_worker(pid, self.directory)


def watch(workers: UwsgiWorkers, every: float = 0.5) -> None:
    """Look for exited workers twice a second, scraped or not, as Gunicorn's master hears of each."""
    def loop():
        while True:
            try:
                workers.fold_dead()
            except Exception:  # keep watching; the next scrape folds again
                logging.getLogger(__name__).exception("could not fold exited workers")
            time.sleep(every)
    threading.Thread(target=loop, name="uwsgi-workers", daemon=True).start()


class _FoldFirst:
    def __init__(self, workers: UwsgiWorkers, inner):
        self.workers, self.inner = workers, inner

    def collect(self):
        self.workers.fold_dead()
        return self.inner.collect()


def note_exit_reason() -> None:
    """In a worker uWSGI ends gracefully (uwsgi_app.py's atexit): recycled or stopped."""
    import uwsgi  # only inside uWSGI's workers

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    me = uwsgi.worker_id()
    limit = int(uwsgi.opt.get("max-requests", b"0") or 0)
    delta = int(uwsgi.opt.get("max-requests-delta", b"0") or 0)
    served = next((w["delta_requests"] for w in uwsgi.workers() if w["id"] == me), 0)  # since this spawn
    reason = "recycled" if limit and served >= limit + (me - 1) * delta else "stopped"  # uWSGI's own rule
    with open(_reason_path(directory, os.getpid()), "w") as f:
        f.write(reason)


def main(argv: list[str] | None = None) -> None:
    host, port = (sys.argv[1:] if argv is None else argv)[:2]
    master = os.getppid()  # uWSGI's master, which started this server (--attach-daemon2)
    env = os.environ
    directory = env["PROMETHEUS_MULTIPROC_DIR"]
    from .uwsgi_conf import default_workers
    workers = UwsgiWorkers(master, directory, env_int(env, "UWSGI_WORKERS", default_workers(), low=1, high=256))
    from .settings import load
    cfg = load(env)
    queue_dir = cfg.log_queue_dir if cfg.logstash_host and "LOG_QUEUE_DIR" in env else None
    registry = CollectorRegistry()
    collectors = [_LockedMultiProcessCollector(directory),
                  WorkerCollector(workers.live, lambda: workers.configured, workers.exits, queue_dir)]
    registry.register(_FoldFirst(workers, _Labelled(collectors, deployment_labels(env))))
    watch(workers)
    _server, thread = start_http_server(int(port), host, registry=registry)
    thread.join()


if __name__ == "__main__":
    main()
