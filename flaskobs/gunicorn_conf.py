"""Gunicorn settings, all from the environment (defaults and meanings: README, "Configuration").

    flaskobs-serve                          # the same as the line below, metrics directory emptied
    gunicorn -c python:flaskobs.gunicorn_conf   # serves APP_MODULE (or an app named after it)

PROMETHEUS_MULTIPROC_DIR must be set and emptied before Python starts (flaskobs-serve does
it), because prometheus_client picks its value class at import and preload would run before
any hook could wipe it. A bad setting stops the master at once with a message naming it.
"""

import importlib.util
import logging
import os
import signal
import sys
import threading

from flaskobs import bind as _bind
from flaskobs import settings as _settings
from flaskobs.app_loader import check_module
from flaskobs.delayed_stop import shutdown_delay
from flaskobs.settings import ConfigError, env_bool, env_choice, env_int

_env = os.environ
WORKER_CLASSES = ("sync", "gthread", "gevent")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours the container's cpuset
    except AttributeError:
        return os.cpu_count() or 1


try:
    bind = [_bind.bind(_env)]
    _port = _bind.port(_env)
    _max_workers = env_int(_env, "GUNICORN_MAX_WORKERS", 9, low=1, high=256)
    workers = env_int(_env, "GUNICORN_WORKERS", min(2 * _cpus() + 1, _max_workers), low=1, high=256)
    worker_class = env_choice(_env, "GUNICORN_WORKER_CLASS", "sync", WORKER_CLASSES)
    threads = env_int(_env, "GUNICORN_THREADS", 4 if worker_class == "gthread" else 1, low=1, high=64)
    # Gunicorn's default; gevent only: how many requests one worker serves at once.
    worker_connections = env_int(_env, "GUNICORN_WORKER_CONNECTIONS", 1000, low=1, high=100000)
    if worker_class == "gevent" and importlib.util.find_spec("gevent") is None:
        raise ConfigError("GUNICORN_WORKER_CLASS=gevent needs the gevent package, which is not installed: "
                          "pip install 'flaskobs[gevent]' (the app image has it)")
    timeout = env_int(_env, "GUNICORN_TIMEOUT", 30, low=1, high=3600)
    graceful_timeout = env_int(_env, "GUNICORN_GRACEFUL_TIMEOUT", 30, low=1, high=3600)
    # Seconds the master keeps serving after SIGTERM before it stops as Gunicorn does (closing its
    # listener, then letting workers finish): time for a balancer that finds replicas by DNS to stop
    # sending here (Swarm: swarm.yaml). 0: stop at once, as Gunicorn does.
    _shutdown_delay = shutdown_delay(_env)
    # Longer than Nginx's upstream keepalive_timeout, so Gunicorn never closes a connection
    # Nginx is about to reuse.
    keepalive = env_int(_env, "GUNICORN_KEEPALIVE", 75, low=0, high=3600)
    # Gunicorn's maximum (its default is 4094): a request line Nginx accepts (8 KiB buffers) is one
    # Gunicorn accepts too, so the app answers it, not Gunicorn's HTML 414.
    limit_request_line = 8190
    # Gunicorn's HTTP parser: auto (its default) takes the C parser gunicorn_h1c when it is
    # installed (not in the app image), python forces the pure-Python one, fast requires the C one.
    http_parser = env_choice(_env, "GUNICORN_HTTP_PARSER", "auto", ("auto", "python", "fast"))
    if http_parser == "fast" and importlib.util.find_spec("gunicorn_h1c") is None:
        raise ConfigError("GUNICORN_HTTP_PARSER=fast needs gunicorn_h1c, which is not installed: "
                          "pip install 'flaskobs[fast]'")
    # Recycle workers now and then (a guard against leaks); the jitter spreads restarts out.
    max_requests = env_int(_env, "GUNICORN_MAX_REQUESTS", 10000, low=0, high=10**9)
    max_requests_jitter = env_int(_env, "GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10, low=0, high=10**9)
    _access_log = env_bool(_env, "GUNICORN_ACCESS_LOG", True)
    _metrics_port = _bind.metrics_port(_env)
    _metrics_host = _bind.metrics_host(_env)
    _metrics_dir = _env.get("PROMETHEUS_MULTIPROC_DIR", "")
    if _metrics_dir and not os.path.isdir(_metrics_dir):
        raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir!r} is not a directory; "
                          "create it (empty) before starting Gunicorn, or start with flaskobs-serve")
    if _metrics_port == _port:
        raise ConfigError(f"METRICS_PORT={_metrics_port} equals PORT; the metrics port must differ")
    _cfg = _settings.load(_env)  # the extension's own settings, checked before any worker starts
    forwarded_allow_ips = _cfg.forwarded_allow_ips  # Gunicorn's scheme headers: the extension's rule
    _app_module = _env.get("APP_MODULE", "").strip()
    if _app_module:
        check_module(_app_module)
except ConfigError as exc:
    sys.stderr.write(f"configuration error: {exc}\n")
    sys.exit(2)

wsgi_app = "flaskobs.app_loader:load()"  # APP_MODULE, with errors that name it
preload_app = False  # each worker builds its own app: no shared log queue or metric state
accesslog = "-" if _access_log else None
errorlog = "-"
logger_class = "flaskobs.gunicorn_logging.JsonLogger"
loglevel = _cfg.log_level.lower()
# The workers' heartbeat files, off overlayfs; Gunicorn makes them private (mkstemp).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # nosec B108
proc_name = _cfg.service_name
control_socket_disable = True  # flaskobs does not use gunicornc; no socket in $HOME


def on_starting(server):
    from flaskobs import gunicorn_errors
    gunicorn_errors.install()  # in the master, so every worker forked later answers in JSON


def _delay_shutdown(server, seconds: int) -> None:
    """SIGTERM starts a countdown instead of the shutdown; the shutdown is then Gunicorn's own,
    queued through the arbiter's signal handler (Arbiter.signal). A second SIGTERM, or SIGINT or
    SIGQUIT, stops at once."""
    def countdown(signum, frame):
        signal.signal(signal.SIGTERM, server.signal)
        server.log.info("SIGTERM: still serving for %d s so balancers stop sending here, then stopping", seconds)
        timer = threading.Timer(seconds, server.signal, (signal.SIGTERM, None))
        timer.daemon = True
        timer.start()
    signal.signal(signal.SIGTERM, countdown)


def when_ready(server):
    if _shutdown_delay:
        _delay_shutdown(server, _shutdown_delay)
    if _metrics_dir and _cfg.metrics_enabled:
        from flaskobs import gunicorn_metrics
        queue_dir = _cfg.log_queue_dir if _cfg.logstash_host and "LOG_QUEUE_DIR" in _env else None
        from flaskobs.settings import deployment_labels
        gunicorn_metrics.start(server, _metrics_port, _metrics_host, log_queue_dir=queue_dir,
                               labels=deployment_labels(_env))
        server.log.info("metrics on %s:%d", _metrics_host, _metrics_port)


def post_fork(server, worker):
    """Until init_process installs the worker's own signal handlers (for gevent, after its
    patching, which takes a while), a new worker runs the master's, which only queue a signal for
    the master's loop: a stop sent then was lost, and the worker served on until the master's
    SIGKILL at the graceful timeout (1 stop in 6 under load, a stop right after a start). Here
    such a signal ends the worker's loop as soon as it has booted."""
    def stop_after_boot(signum, frame):
        worker.alive = False
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, stop_after_boot)


def post_worker_init(worker):
    from flaskobs.gunicorn_logging import STDOUT
    STDOUT.rearm()  # after gevent's worker patched threading; no access line is written before this
    if worker_class == "gevent":
        from flaskobs import gevent_idle
        gevent_idle.watch(worker)


if worker_class == "gevent":  # request hooks for gevent only: no call per request elsewhere
    from flaskobs.gevent_idle import post_request, pre_request  # noqa: F401  # Gunicorn reads them here


def child_exit(server, worker):
    if _metrics_dir:
        from flaskobs import gunicorn_metrics
        try:
            gunicorn_metrics.worker_exited(worker)
        except Exception:  # never let bookkeeping take the master down
            server.log.exception("could not fold metrics of worker %s", worker.pid)


def worker_exit(server, worker):
    from flaskobs.gunicorn_logging import STDOUT
    from flaskobs.logship import ShippingHandler
    if _metrics_dir:
        from flaskobs import gunicorn_metrics
        try:
            gunicorn_metrics.note_exit_reason(worker)
        except OSError:  # the master then counts it as killed; exiting matters more
            server.log.exception("could not note why worker %s exits", worker.pid)
    STDOUT.flush()  # access lines still in the batch
    # Flush and close the log shipper before the process ends; its queue is on disk anyway.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, ShippingHandler):
            handler.close()
