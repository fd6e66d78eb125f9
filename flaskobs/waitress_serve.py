"""`flaskobs-waitress`: serve APP_MODULE with Waitress, a pure-Python server that runs on Windows too,
with flaskobs's JSON logs, request ids and metrics.

    pip install 'flaskobs[waitress]'
    APP_MODULE='myapp:create_app()' flaskobs-waitress     (from the folder that holds myapp)

One process with WAITRESS_THREADS threads, so the metrics live in the process's own registry (no
multiprocess directory) and are served on METRICS_PORT, never on the app's port. Every request gets
the JSON access line Gunicorn's gets (access_line.py). Waitress leaves X-Forwarded-* alone here:
flaskobs's ProxyFix decides which proxies to trust (FORWARDED_ALLOW_IPS). No Gunicorn import, no fork.
"""

import logging
import os
import signal
import sys
import threading

from . import bind
from .access_line import fixed_tail
from .app_loader import inner_flask, locate
from .settings import ConfigError, env_bool, env_int
from .wsgi_access import AccessLog, access_logger

DEFAULT_LISTEN = "127.0.0.1:8000"  # a developer's machine; a container or a host behind a proxy sets it


def main(argv: list[str] | None = None) -> None:
    env = os.environ
    try:
        from waitress.adjustments import Adjustments
    except ImportError:
        sys.stderr.write("flaskobs-waitress needs Waitress: pip install 'flaskobs[waitress]'\n")
        sys.exit(2)
    try:
        from .serve import secrets_from_files
        secrets_from_files(env)  # X_FILE for X, as flaskobs-serve does
        listen = env.get("WAITRESS_LISTEN", "").strip() or DEFAULT_LISTEN
        threads = env_int(env, "WAITRESS_THREADS", 4, low=1, high=256)
        metrics_port = bind.metrics_port(env)
        access_log = env_bool(env, "WAITRESS_ACCESS_LOG", True)
        try:
            Adjustments(listen=listen)
        except ValueError as exc:
            raise ConfigError(f"WAITRESS_LISTEN={listen!r}: {exc}; example: 127.0.0.1:8000 or 0.0.0.0:8000") from None
        app = locate(env.get("APP_MODULE", "").strip())
    except (ConfigError, ValueError) as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
    serve(app, listen, threads, metrics_port, access_log)


def serve(app, listen: str, threads: int, metrics_port: int, access_log: bool) -> None:
    from waitress import create_server

    from .extension import state
    from .logs import JsonFormatter
    from .settings import identity

    flask_app = inner_flask(app)
    if flask_app is None:
        raise ConfigError("APP_MODULE is not a Flask app with flaskobs.init_app; flaskobs-waitress serves those only")
    found = state(flask_app)
    static = identity(os.environ)
    access = access_logger(JsonFormatter(static))
    wrapped = AccessLog(app, access, fixed_tail(static)) if access_log else app
    if found.metrics is not None:
        from prometheus_client import start_http_server
        host = listen.split()[0].rpartition(":")[0].strip("[]").replace("*", "0.0.0.0")  # nosec B104
        start_http_server(metrics_port, host, registry=found.metrics.registry)
    # Waitress's defaults, except: no forwarded-header handling (ProxyFix's job) and its own name hidden.
    server = create_server(wrapped, listen=listen, threads=threads, ident="", clear_untrusted_proxy_headers=False)
    log = logging.getLogger("flaskobs.waitress")
    log.info("serving on %s with %d threads; metrics on :%s", listen, threads,
             metrics_port if found.metrics is not None else "off")

    def stop(signum, frame):
        # Stop accepting, let the threads finish what they hold, then leave run().
        log.info("signal %d: stopping", signum)
        threading.Thread(target=server.close, daemon=True).start()
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):  # SIGBREAK: Ctrl-Break on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)
    try:
        server.run()
    except OSError:  # the map closed under select() by stop()
        pass
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=30)
    if found.shipper is not None:
        found.shipper.close()  # what is still in memory goes to the queue file


if __name__ == "__main__":
    main()
