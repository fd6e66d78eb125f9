"""Flask app factory: `gunicorn 'app:create_app()'`."""

import os

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import api, config, db, errors, health, logs, metrics, pages, request_id


class _SessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the client reached us over HTTPS."""

    def get_cookie_secure(self, app):
        from flask import has_request_context, request
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    # Defaults, then the environment, then the test's overrides (the flaskr pattern).
    env = {**os.environ, **{k: str(v) for k, v in (test_config or {}).items()
                            if isinstance(v, (str, int, float))}}
    app.config.update(config.load(env, app.instance_path))
    if test_config:
        app.config.update(test_config)

    hops = {k: app.config[f"PROXY_FIX_{k.upper()}"] for k in ("x_for", "x_proto", "x_host", "x_prefix")}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)
    app.session_interface = _SessionInterface()

    request_id.init_app(app)
    prom = metrics.init_app(app)
    logs.init_app(app)
    db.init_app(app, observe=app.extensions["observe_query"])
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.extensions["prometheus"] = prom
    return app
