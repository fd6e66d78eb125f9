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
from time import perf_counter

from . import bind
from .access_line import access_line, fixed_tail
from .app_loader import inner_flask, observed
from .settings import ConfigError, env_bool, env_int

DEFAULT_LISTEN = "127.0.0.1:8000"  # a developer's machine; a container or a host behind a proxy sets it


class AccessLog:
    """WSGI middleware: one JSON access line per request, when its body is done (or the client left)."""

    def __init__(self, app, log: logging.Logger, tail: str):
        self.app, self.log, self.tail = app, log, tail

    def __call__(self, environ, start_response):
        started, seen = perf_counter(), {}

        def start(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        return _Body(body, lambda sent: self._write(environ, seen, sent, perf_counter() - started))

    def _write(self, environ, seen: dict, sent: int, seconds: float) -> None:
        status = str(seen.get("status", ""))[:3]
        request_id = next((v for k, v in seen.get("headers", ()) if k.lower() == "x-request-id"),
                          environ.get("HTTP_X_REQUEST_ID"))
        line = access_line(environ, status=int(status) if status.isdigit() else None, sent=sent,
                           request_id=request_id, seconds=seconds, tail=self.tail)
        self.log.info(line, extra={"_json_line": line})


class _Body:
    """The app's response body, passed through, counting bytes; `done(sent)` once, on close."""

    def __init__(self, body, done):
        self.body, self.done, self.sent = body, done, 0

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done(self.sent)


def _access_logger(formatter) -> logging.Logger:
    """The logger Gunicorn's access lines use, so dashboards and LOG_SHIP_ACCESS work alike: stdout,
    plus the shipper when logs.install put it there; never the root logger's handlers too."""
    access = logging.getLogger("gunicorn.access")
    access.propagate = False
    access.setLevel(logging.INFO)
    stdout = logging.StreamHandler(sys.stdout)
    stdout.setFormatter(formatter)
    access.addHandler(stdout)
    return access


def load_app(spec: str):
    """APP_MODULE as `flask --app` reads it (module:variable or module:factory()), from the current folder."""
    from flask.cli import NoAppException, locate_app

    if not spec:
        raise ConfigError("APP_MODULE is not set; name the app to serve, for example APP_MODULE='myapp:create_app()'")
    module, _, name = spec.partition(":")
    sys.path.insert(0, os.getcwd())
    try:
        app = locate_app(module, name or None)
    except NoAppException as exc:
        raise ConfigError(f"APP_MODULE={spec!r}: {exc}") from None
    return observed(app, spec)


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
        app = load_app(env.get("APP_MODULE", "").strip())
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
    access = _access_logger(JsonFormatter(static))
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
