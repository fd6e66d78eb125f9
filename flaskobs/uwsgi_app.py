"""The WSGI module each uWSGI worker loads (`--module flaskobs.uwsgi_app:application`, after the
fork): APP_MODULE with flaskobs, Gunicorn's refusals (wsgi_limits.py), environ
(uwsgi_environ.py) and chunked bodies (uwsgi_chunked.py), the JSON access line (wsgi_access.py),
and, as the worker leaves, why it left (for the metrics server's exit counts) and the log
shipper flushed.

A bad APP_MODULE or setting is written as one `configuration error:` line; uWSGI then stops
(--need-app) instead of serving without an app.
"""

import atexit
import logging
import os
import sys

from .uwsgi_boot_signals import keep_stops_until_uwsgi_listens

# First, before the app and flaskobs's own modules load (in _load): a stop that comes meanwhile.
keep_stops_until_uwsgi_listens()

FAILED_APP = 22  # UWSGI_FAILED_APP_CODE: "the app failed to load; shut down"


def _own_stdout(env) -> None:
    """The container's stdout as flaskobs-serve left it, not uWSGI's encoder pipe (serve.py); uWSGI
    also points sys.stdout at fd 2, so the app's lines went through the encoder twice over."""
    from .serve import STDOUT_FD_VAR
    fd = env.get(STDOUT_FD_VAR, "")
    if fd.isdigit():
        sys.stdout.flush()
        os.dup2(int(fd), 1)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)


def _load():
    from .access_line import fixed_tail
    from .app_loader import inner_flask, locate
    from .logs import JsonFormatter
    from .settings import ConfigError, env_bool, identity
    from .uwsgi_chunked import ChunkedInput
    from .uwsgi_environ import GunicornLikeEnviron
    from .wsgi_access import AccessLog, access_logger
    from .wsgi_limits import RequestLimits
    env = os.environ
    _own_stdout(env)
    try:
        app = locate(env.get("APP_MODULE", "").strip())
        access = env_bool(env, "ACCESS_LOG", True)  # not UWSGI_: uWSGI would read it as an option
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.stderr.flush()
        os._exit(FAILED_APP)  # uWSGI's master then stops (another code: it respawns the worker forever)
    if inner_flask(app) is None:
        logging.getLogger(__name__).warning("APP_MODULE is not a Flask app; served without flaskobs")
    app = GunicornLikeEnviron(RequestLimits(app))  # what Gunicorn refuses, refused; its environ
    import uwsgi  # only inside a uWSGI worker
    app = ChunkedInput(app, uwsgi.chunked_read)
    if access:
        static = identity(env)
        app = AccessLog(app, access_logger(JsonFormatter(static)), fixed_tail(static))
    atexit.register(_leaving)
    return app


def _leaving() -> None:
    """In the worker as uWSGI ends it gracefully (stop, reload, max-requests): say why, then flush
    the shipper. A worker killed by a signal writes nothing: the metrics server counts it killed."""
    from .logship import ShippingHandler
    from .uwsgi_metrics import note_exit_reason
    try:
        note_exit_reason()
    except OSError:
        pass  # counted as killed; flushing the logs matters more
    for handler in logging.getLogger().handlers:
        if isinstance(handler, ShippingHandler):
            handler.close()


application = _load()
