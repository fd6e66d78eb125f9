"""The app Gunicorn serves, from APP_MODULE, with errors that name it.

gunicorn_conf.py sets `wsgi_app = "flaskobs.app_loader:load()"`; an app named on Gunicorn's
command line replaces it. APP_MODULE takes Gunicorn's own syntax: `module:variable` or
`module:factory(args)`. Any failure (no such module or attribute, a factory that raises, a
bad setting) becomes gunicorn.errors.AppImportError, which Gunicorn prints as one line before
it stops: "App failed to load", exit code 4.

A Flask app that did not call flaskobs.init_app gets it here, with the defaults, so /healthz,
metrics and JSON logs are there even before the factory has its one line.
"""

import logging
import os
import traceback

from flask import Flask

from .extension import EXTENSION_KEY, init_app
from .settings import ConfigError

log = logging.getLogger(__name__)
EXAMPLE = "APP_MODULE='myapp:create_app()'"


def load():
    """Gunicorn's wsgi_app: APP_MODULE, with errors that name it (Gunicorn's loader, imported here
    only, so that Waitress, on Windows too, can use observed() without Gunicorn)."""
    from gunicorn.errors import AppImportError
    from gunicorn.util import import_app

    spec = os.environ.get("APP_MODULE", "").strip()
    if not spec:
        raise AppImportError(f"configuration error: APP_MODULE is not set; name the WSGI app to serve, for example "
                             f"{EXAMPLE}")
    module = spec.split(":", 1)[0]
    try:
        app = import_app(spec)
    except AppImportError as exc:
        raise AppImportError(f"configuration error: APP_MODULE={spec!r}: {exc} (example: {EXAMPLE})") from None
    except ImportError as exc:
        if exc.name and module.split(".")[0] == exc.name.split(".")[0]:
            where = f"no module {module!r} in {os.getcwd()} (is APP_DIR the folder that holds it?)"
        else:  # the module exists; something it imports does not
            where = f"importing it failed: {exc} (is that package in APP_DIR's requirements.txt?)"
        raise AppImportError(f"configuration error: APP_MODULE={spec!r}: {where}") from None
    except ConfigError as exc:  # a setting the factory or flaskobs refused: the message names it
        raise AppImportError(f"configuration error: {exc}") from None
    except Exception as exc:
        log.error("APP_MODULE=%r: the app failed to load:\n%s", spec, traceback.format_exc())
        raise AppImportError(f"configuration error: APP_MODULE={spec!r}: the app failed to load: "
                             f"{type(exc).__name__}: {exc}") from None
    try:
        return observed(app, spec)
    except ConfigError as exc:
        raise AppImportError(f"configuration error: {exc}") from None


def observed(app, spec: str):
    """The app itself, with flaskobs set up on it if its factory did not (raises ConfigError)."""
    if isinstance(app, Flask):
        if EXTENSION_KEY not in app.extensions:
            log.warning("APP_MODULE=%r does not call flaskobs.init_app(app); set up here with the defaults", spec)
            init_app(app)
    elif not _has_flaskobs(app):
        log.warning("APP_MODULE=%r is %s, not a Flask app: flaskobs cannot add /healthz, metrics or JSON logs "
                    "to it; call flaskobs.init_app on the Flask app inside it", spec, type(app).__name__)
    return app


def inner_flask(wsgi) -> Flask | None:
    """The Flask app inside these middleware layers (at most 10 deep), if there is one."""
    for _ in range(10):
        if isinstance(wsgi, Flask):
            return wsgi
        wsgi = getattr(wsgi, "app", None) or getattr(wsgi, "wsgi_app", None) or getattr(wsgi, "__wrapped__", None)
        if wsgi is None:
            return None
    return None


def _has_flaskobs(wsgi) -> bool:
    """Whether a Flask app with flaskobs sits somewhere inside these middleware layers."""
    app = inner_flask(wsgi)
    return app is not None and EXTENSION_KEY in app.extensions


def check_module(spec: str) -> None:
    """Catch a typo in APP_MODULE before any worker starts, without importing the app."""
    import importlib.machinery
    import re
    import sys

    if not re.fullmatch(r"[A-Za-z_][\w.]*(:.+)?", spec):
        raise ConfigError(f"APP_MODULE={spec!r} is not module:variable or module:factory(); example: {EXAMPLE}")
    top = spec.split(":", 1)[0].split(".")[0]
    if importlib.machinery.PathFinder.find_spec(top, [os.getcwd(), *sys.path]) is None:
        raise ConfigError(f"APP_MODULE={spec!r}: no module {top!r} in {os.getcwd()} or on the Python path "
                          "(is APP_DIR the folder that holds it?)")


def locate(spec: str):
    """APP_MODULE as `flask --app` reads it (module:variable or module:factory()), from the current
    folder, with flaskobs on it: for servers other than Gunicorn (Waitress, uWSGI). Raises ConfigError."""
    import sys

    from flask.cli import NoAppException, locate_app

    if not spec:
        raise ConfigError(f"APP_MODULE is not set; name the app to serve, for example {EXAMPLE}")
    module, _, name = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        app = locate_app(module, name or None)
    except NoAppException as exc:
        raise ConfigError(f"APP_MODULE={spec!r}: {exc}") from None
    return observed(app, spec)
