"""uWSGI's command line, all from the environment (APP_SERVER=uwsgi; defaults and meanings: README,
"uWSGI instead of Gunicorn"). flaskobs-serve runs it after the same preparation as Gunicorn's.

uWSGI reads every UWSGI_X variable as its own option --x, and --strict stops it on one it does not
know: so each UWSGI_ setting here is the uWSGI option of that name, checked and given our default
(UWSGI_WORKERS, UWSGI_THREADS, UWSGI_MAX_REQUESTS, UWSGI_HARAKIRI, UWSGI_WORKER_RELOAD_MERCY); the
command line repeats the value, so both agree. APP_PROTOCOL is ours (uWSGI's own "protocol" differs).

Every option below changes a uWSGI default that would break a guarantee Gunicorn's set-up gives:
- --lazy-apps: each worker builds its own app after the fork (Gunicorn: preload_app = False), so
  no log queue, SQLite file or metric state is shared between processes.
- --enable-threads: uWSGI otherwise leaves the GIL uninitialised, and the log shipper's
  thread never runs (logs pile up in the queue file).
- SIGTERM is a graceful stop (uWSGI 2.0 reads it as "reload"): workers finish their requests
  within UWSGI_WORKER_RELOAD_MERCY, then exit, running atexit (uwsgi_app.py: the shipper flushes).
- A graceful stop goes through the master's FIFO (delayed_stop.py writes "q"): the master reads it
  in its loop. The SIGTERM hook, kept for a signal sent to the master itself, runs inside a signal
  handler: one that came while the master slept before respawning a worker ("respawning too
  fast") stopped the workers it knew, then the master forked the new one and waited for it forever.
- --py-call-uwsgi-fork-hooks and --shared-import flaskobs.uwsgi_fork_guard: the master forks a
  worker with the stop signals blocked, which the worker unblocks once it can keep them.
- --buffer-size 32768: the request's headers Nginx accepts (4 x 8 KiB) fit; uWSGI's 4 KiB
  answered a 5 KiB cookie with a dropped connection (Nginx: 502).
- --max-vars 4096: as many header fields as the buffer holds, so the app's JSON 431 answers more
  than 100 (wsgi_limits.py, Gunicorn's limit); uWSGI's 64 dropped the connection at 120 headers.
- --chmod-socket 666 on a Unix socket: Nginx runs as another user (Gunicorn's socket is 0777).
- --disable-logging: uWSGI's own request lines are off; uwsgi_app.py writes the JSON access line.
- uWSGI's own lines (start-up, worker respawns) are JSON through its log encoder.
- The metrics server is a process uWSGI supervises (--attach-daemon2, uwsgi_metrics.py): uWSGI's
  master is C, and its Python mules crash under --lazy-apps with this Python.
"""

import json
import os
import sys
from collections.abc import Mapping

from . import bind
from .app_loader import check_module
from .settings import ConfigError, env_bool, env_choice, env_int, identity, load

PROTOCOLS = ("uwsgi", "http")  # uwsgi: Nginx's uwsgi_pass; http: a client or Caddy speaks HTTP to it
SOCKET_OPTION = {"uwsgi": "--uwsgi-socket", "http": "--http-socket"}
BUFFER_SIZE = 32768
MAX_VARS = BUFFER_SIZE // 8  # a variable takes at least 8 bytes of the request's packet


def master_fifo(env) -> str:
    """The master's FIFO, in the one directory each server owns and empties at start."""
    return os.path.join(env["PROMETHEUS_MULTIPROC_DIR"], "uwsgi-master.fifo")


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours the container's cpuset
    except AttributeError:
        return os.cpu_count() or 1


def default_workers() -> int:
    """Gunicorn's rule here too (gunicorn_conf.py): 2 x CPUs + 1, at most 9."""
    return min(2 * cpus() + 1, 9)


def backlog() -> int:
    """uWSGI refuses to start with a listen queue above the kernel's somaxconn; Gunicorn asks 2048."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return min(2048, int(f.read()))
    except (OSError, ValueError):
        return 128


def log_encoder(env: Mapping[str, str]) -> str:
    """uWSGI's own lines as JSON objects with the app's lines' identity fields."""
    fixed = json.dumps(identity(env), separators=(",", ":"))[1:-1]
    return ('json {"@timestamp":"${strftime:%Y-%m-%dT%H:%M:%S%z}","level":"INFO","logger":"uwsgi",'
            '"message":"${msg}"' + ("," + fixed if fixed else "") + "}")


def command(env: Mapping[str, str], uwsgi: str) -> list[str]:
    """The uWSGI command for these settings; raises ConfigError naming a bad one."""
    address = bind.bind(env)
    protocol = env_choice(env, "APP_PROTOCOL", "uwsgi", PROTOCOLS)
    workers = env_int(env, "UWSGI_WORKERS", default_workers(), low=1, high=256)
    threads = env_int(env, "UWSGI_THREADS", 1, low=1, high=64)
    max_requests = env_int(env, "UWSGI_MAX_REQUESTS", 10000, low=0, high=10**9)
    timeout = env_int(env, "UWSGI_HARAKIRI", 30, low=1, high=3600)
    graceful = env_int(env, "UWSGI_WORKER_RELOAD_MERCY", 30, low=1, high=3600)
    metrics_port = bind.metrics_port(env)
    metrics_host = bind.metrics_host(env)
    if not address.startswith("unix:") and metrics_port == bind.port(env):
        raise ConfigError(f"METRICS_PORT={metrics_port} equals PORT; the metrics port must differ")
    load(env)  # the extension's own settings, checked before any worker starts
    spec = env.get("APP_MODULE", "").strip()
    if not spec:
        raise ConfigError("APP_MODULE is not set; name the app to serve, for example APP_MODULE='myapp:create_app()'")
    check_module(spec)
    socket = address.removeprefix("unix:") if address.startswith("unix:") else address
    args = [
        uwsgi, "--strict", "--master", "--need-app", "--lazy-apps", "--enable-threads", "--single-interpreter",
        SOCKET_OPTION[protocol], socket,
        "--processes", str(workers),
        "--buffer-size", str(BUFFER_SIZE), "--max-vars", str(MAX_VARS),
        "--listen", str(backlog()),
        "--harakiri", str(timeout),
        "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
        "--master-fifo", master_fifo(env),
        "--worker-reload-mercy", str(graceful), "--reload-mercy", str(graceful),
        "--disable-logging", "--log-encoder", log_encoder(env), "--log-encoder", "nl",
        "--ignore-sigpipe", "--ignore-write-errors", "--disable-write-exception",
        "--auto-procname", "--procname-prefix-spaced", identity(env).get("service") or "flaskobs",
        "--module", "flaskobs.uwsgi_app:application",
        "--py-call-uwsgi-fork-hooks", "--shared-import", "flaskobs.uwsgi_fork_guard",
    ]
    if protocol == "http":
        # One request per connection, said out loud, as Gunicorn's sync workers do. uWSGI's HTTP socket
        # closed without saying so (a client reusing the connection got "connection reset", 1 request
        # in 3), and its keep-alive socket (--http11-socket) reset the connections a worker held
        # when --max-requests recycled it.
        args += ["--add-header", "Connection: close"]
    if threads > 1:
        args += ["--threads", str(threads)]
    if max_requests:  # spread out, as Gunicorn's jitter does: worker n recycles after max + n * delta
        # --min-worker-lifetime 0: uWSGI otherwise keeps a worker younger than 10 s past its maximum.
        args += ["--max-requests", str(max_requests), "--max-requests-delta", str(max_requests // (10 * workers)),
                 "--min-worker-lifetime", "0"]
    if address.startswith("unix:"):
        args += ["--chmod-socket=666", "--vacuum"]  # an optional argument: only with "="
    if env.get("PROMETHEUS_MULTIPROC_DIR") and env_bool(env, "METRICS_ENABLED", True):
        # exec: no shell in between, so uWSGI stops the server itself, and the server's parent is
        # the master whose children it watches.
        daemon = f"exec {sys.executable} -m flaskobs.uwsgi_metrics {metrics_host} {metrics_port}"
        args += ["--attach-daemon2", f"cmd={daemon},stopsignal=15"]
    return args
