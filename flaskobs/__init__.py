"""flaskobs: production observability for any Flask app, in one line.

    import flaskobs
    flaskobs.init_app(app)

gives the app request ids, ProxyFix from the environment, exact request metrics under Gunicorn,
JSON logs with request context, lossless log shipping to Logstash, /healthz and /readyz.
Serve it with `flaskobs-serve` (Gunicorn with flaskobs.gunicorn_conf) and APP_MODULE set, or with
`flaskobs-waitress` (Waitress, for Windows).
The README's "Public API" table describes each name below.

Names load on first use (PEP 562): the health check and the launcher import this package
every few seconds or before Gunicorn starts, and need none of Flask or prometheus_client.
"""

import importlib

_EXPORTS = {
    "init_app": "extension",
    "Observability": "extension",
    "State": "extension",
    "state": "extension",
    "add_readiness_check": "extension",
    "time_queries": "db_timing",
    "database_check": "health",
    "NotReady": "health",
    "error_response": "errors",
    "ConfigError": "settings",
    "request_id": "request_ids:current",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.2.0"


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'flaskobs' has no attribute {name!r}")
    module, _, attr = _EXPORTS[name].partition(":")
    value = getattr(importlib.import_module(f"flaskobs.{module}"), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*globals(), *__all__]
