"""Gunicorn settings, all from the environment (defaults and meanings: README, "Configuration").

Run as `gunicorn -c app/gunicorn.conf.py 'app:create_app()'`. PROMETHEUS_MULTIPROC_DIR must be
set and emptied before Python starts (the image's entrypoint does it), because prometheus_client
picks its value class at import and preload would run before any hook could wipe it.
"""

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.config import ConfigError, env_bool, env_choice, env_int, env_str, load

_env = os.environ


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours the container's cpuset
    except AttributeError:
        return os.cpu_count() or 1


try:
    _port = env_int(_env, "PORT", 8000, low=1, high=65535)
    bind = [env_str(_env, "GUNICORN_BIND", f"0.0.0.0:{_port}")]
    _max_workers = env_int(_env, "GUNICORN_MAX_WORKERS", 9, low=1, high=256)
    workers = env_int(_env, "GUNICORN_WORKERS", min(2 * _cpus() + 1, _max_workers), low=1, high=256)
    worker_class = env_choice(_env, "GUNICORN_WORKER_CLASS", "sync", ("sync", "gthread"))
    threads = env_int(_env, "GUNICORN_THREADS", 4 if worker_class == "gthread" else 1, low=1, high=64)
    timeout = env_int(_env, "GUNICORN_TIMEOUT", 30, low=1, high=3600)
    graceful_timeout = env_int(_env, "GUNICORN_GRACEFUL_TIMEOUT", 30, low=1, high=3600)
    # Longer than Nginx's upstream keepalive_timeout, so Gunicorn never closes a connection
    # Nginx is about to reuse.
    keepalive = env_int(_env, "GUNICORN_KEEPALIVE", 75, low=0, high=3600)
    # Recycle workers now and then (a guard against leaks); the jitter spreads restarts out.
    max_requests = env_int(_env, "GUNICORN_MAX_REQUESTS", 10000, low=0, high=10**9)
    max_requests_jitter = env_int(_env, "GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10,
                                  low=0, high=10**9)
    _access_log = env_bool(_env, "GUNICORN_ACCESS_LOG", True)
    _metrics_enabled = env_bool(_env, "METRICS_ENABLED", True)
    forwarded_allow_ips = env_str(_env, "FORWARDED_ALLOW_IPS", "127.0.0.1")
    _metrics_port = env_int(_env, "METRICS_PORT", 9101, low=1, high=65535)
    _metrics_dir = _env.get("PROMETHEUS_MULTIPROC_DIR", "")
    if _metrics_dir and not os.path.isdir(_metrics_dir):
        raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir!r} is not a directory; "
                          "create it (empty) before starting Gunicorn")
    load(_env, instance_path=_env.get("APP_INSTANCE_PATH", "instance"))  # SECRET_KEY, DATABASE_URL, ...
    if _metrics_port == _port:
        raise ConfigError(f"METRICS_PORT={_metrics_port} equals PORT; the metrics port must differ")
except ConfigError as exc:
    sys.stderr.write(f"configuration error: {exc}\n")
    sys.exit(2)

preload_app = False  # each worker builds its own app: no shared log queue or metric state
accesslog = "-" if _access_log else None
errorlog = "-"
logger_class = "app.gunicorn_logging.JsonAccessLogger"
loglevel = _env.get("LOG_LEVEL", "info").lower()
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # heartbeat off overlayfs
proc_name = _env.get("SERVICE_NAME", "flask-app")
control_socket_disable = True  # the app does not use gunicornc; no socket in $HOME


def when_ready(server):
    if _metrics_dir and _metrics_enabled:
        from app import gunicorn_metrics
        queue_dir = _env.get("LOG_QUEUE_DIR") if _env.get("LOGSTASH_HOST") else None
        gunicorn_metrics.start(server, _metrics_port, log_queue_dir=queue_dir)
        server.log.info("metrics on :%d", _metrics_port)


def child_exit(server, worker):
    if _metrics_dir:
        from app import gunicorn_metrics
        try:
            gunicorn_metrics.worker_exited(worker.pid)
        except Exception:  # never let bookkeeping take the master down
            server.log.exception("could not fold metrics of worker %s", worker.pid)


def worker_exit(server, worker):
    from app.gunicorn_logging import STDOUT
    STDOUT.flush()  # access lines still in the batch
    # Flush and close the log shipper before the process ends; its queue is on disk anyway.
    for handler in logging.getLogger().handlers:
        if type(handler).__name__ == "ShippingHandler":
            handler.close()
