"""`flaskobs.init_app(app)`: request ids, ProxyFix, request metrics, JSON logs with request
context, log shipping, /healthz and /readyz, and error counting, wired in one call.

The parts are wired here, in one fixed order, and share one typed State in
app.extensions["flaskobs"]; nothing else reads or writes app.extensions. The request path is a
WSGI middleware (observer.py) plus one after_request hook, so it does not matter where in the
app's factory init_app is called, or what the app registers before or after it.
"""

from dataclasses import dataclass

from flask import Flask

from . import errors, forwarded, health, json_input, logs, metrics, observer, settings
from .settings import ConfigError, Settings

EXTENSION_KEY = "flaskobs"
MIN_SECRET_LENGTH = 32
_WEAK_SECRETS = {"changeme", "secret", "dev", "development", "password", "flask", "default"}


@dataclass
class State:
    """Everything flaskobs keeps for one app."""

    settings: Settings
    metrics: metrics.RequestMetrics | None
    readiness: health.Readiness
    shipper: object | None  # logship.ShippingHandler when shipping


def state(app: Flask) -> State:
    found = app.extensions.get(EXTENSION_KEY)
    if found is None:
        raise RuntimeError("flaskobs is not set up for this app: call flaskobs.init_app(app) in its factory first")
    return found


def check_secret_key(key) -> None:
    """Refuse a missing, short, repetitive or well-known SECRET_KEY (the app's; never changed)."""
    if not key:
        raise ConfigError("SECRET_KEY is not set; production needs at least "
                          f"{MIN_SECRET_LENGTH} random characters (`make init` writes one to .env; the app must "
                          "put it in app.config['SECRET_KEY'])")
    key = key.decode() if isinstance(key, bytes) else str(key)
    if len(key) < MIN_SECRET_LENGTH or key.lower() in _WEAK_SECRETS or len(set(key)) < 10:
        raise ConfigError(f"SECRET_KEY is too weak; use at least {MIN_SECRET_LENGTH} random characters, for example "
                          f"`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`")


def check_app_config(app: Flask, cfg: Settings) -> None:
    """In production, refuse to serve an app that is not safe to serve. Checks, never writes."""
    if not cfg.production:
        return
    check_secret_key(app.config.get("SECRET_KEY"))
    if app.debug:
        raise ConfigError("DEBUG is on while APP_ENV=production; switch it off (FLASK_DEBUG, app.debug) "
                          "or set APP_ENV=development")


class Observability:
    """The Flask-extension form: `Observability(app)`, or `obs = Observability()` then
    `obs.init_app(app)` in a factory. Options are the keyword names of settings.SPECS."""

    def __init__(self, app: Flask | None = None, **options):
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **options) -> State:
        return init_app(app, **{**self.options, **options})


def init_app(app: Flask, **options) -> State:
    """Wire every part into `app`; options override the environment (see settings.SPECS)."""
    if EXTENSION_KEY in app.extensions:
        raise RuntimeError("flaskobs.init_app was already called for this app")
    cfg = settings.load(options=options, instance_path=app.instance_path)
    check_app_config(app, cfg)

    recorder = metrics.install(app, cfg)
    shipper = logs.install(app, cfg, recorder.log_shipping if recorder else None)
    readiness = health.Readiness(cfg.readiness_timeout)
    if shipper is not None:
        def log_queue():
            backlog, bound = shipper.backlog(), shipper.max_events
            if backlog >= bound:
                raise health.NotReady(f"full: {backlog}/{bound} events")
        readiness.add("log_queue", log_queue)
    app.register_blueprint(health.bp)
    errors.install(app, recorder, cfg.json_errors)
    json_input.install(app, cfg.json_max_depth)

    hops = {"x_for": cfg.proxy_fix_x_for, "x_proto": cfg.proxy_fix_x_proto, "x_host": cfg.proxy_fix_x_host,
            "x_prefix": cfg.proxy_fix_x_prefix}
    inner = (forwarded.TrustedProxyFix(app.wsgi_app, cfg.forwarded_allow_ips, **hops) if any(hops.values())
             else app.wsgi_app)
    app.wsgi_app = observer.RequestObserver(inner, recorder, shipper)
    app.after_request(observer.note_route)

    found = app.extensions[EXTENSION_KEY] = State(settings=cfg, metrics=recorder, readiness=readiness,
                                                  shipper=shipper)
    return found


def add_readiness_check(app: Flask, name: str, check) -> None:
    """Make /readyz depend on `check()`: it fails when the check raises, returns False or takes
    longer than READINESS_TIMEOUT."""
    state(app).readiness.add(name, check)
