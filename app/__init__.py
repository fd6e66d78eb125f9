"""Flask app factory: `gunicorn 'app:create_app()'`."""

import os

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import api, config, db, errors, health, logs, metrics, pages, request_id


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure whenever the client reached us over HTTPS, and
    free for requests that carry no session cookie (most API calls): Flask builds a signing
    serializer on every request otherwise."""

    def open_session(self, app, request):
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app):
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)

    def save_session(self, app, session, response):
        if not session and not session.modified and not session.accessed:
            return  # nothing to write: skip computing the cookie's attributes on every request
        super().save_session(app, session, response)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    # Defaults, then the environment, then the test's overrides (the flaskr pattern).
    env = {**os.environ, **{k: str(v) for k, v in (test_config or {}).items()
                            if isinstance(v, (str, int, float))}}
    parsed = config.load(env, app.instance_path)
    app.config.update(parsed)
    # Scalars went through the same parsing as the environment; only other keys pass as they are.
    app.config.update({k: v for k, v in (test_config or {}).items()
                       if k not in parsed or not isinstance(v, (str, int, float))})

    hops = {k: app.config[f"PROXY_FIX_{k.upper()}"] for k in ("x_for", "x_proto", "x_host", "x_prefix")}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)
    app.session_interface = _SessionInterface()

    request_id.init_app(app)
    metrics.init_app(app)
    logs.init_app(app)
    db.init_app(app, observe=app.extensions["observe_query"])
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    return app
