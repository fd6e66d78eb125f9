"""Request, database and app metrics, on prometheus-flask-exporter's registry set-up.

Under Gunicorn (PROMETHEUS_MULTIPROC_DIR set by the image, before Python starts) the
workers write to the multiprocess directory and the master serves the merged view on
METRICS_PORT (see gunicorn_metrics.py). Elsewhere (tests, `flask run`) each app gets its
own in-process registry, so tests never see each other's series.

The request metrics keep the exporter's names and labels (flask_http_request_duration_seconds
by method, url_rule, status; flask_http_request_total; flask_http_request_exceptions_total)
but are recorded by the two small hooks below instead of the exporter's defaults, which cost
more (docs/benchmarks.md compares its documented set-up): context-local lookups on every attribute, a regex
per excluded path, a labels dict built and looked up under a lock for every sample. Here the
label children are cached per (method, route, status), so a request costs one dict lookup and
three multiprocess value writes. Methods outside the standard ones count as "other", so a
client cannot grow the number of series.
"""

import os
from time import perf_counter

from flask import Flask, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics

# Request latency buckets: fine below 100 ms where Flask requests live, few above.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
# Probes and static files are not user traffic; Nginx serves /static/ anyway.
EXCLUDED_RULES = frozenset({"/healthz", "/readyz", "/static/<path:filename>"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_START = "flaskobs.request_start"


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _request_hooks(app: Flask, registry) -> None:
    duration = Histogram("flask_http_request_duration_seconds", "Flask HTTP request duration in seconds",
                         ("method", "url_rule", "status"), buckets=REQUEST_BUCKETS, registry=registry)
    total = Counter("flask_http_request_total", "Total number of HTTP requests", ("method", "status"),
                    registry=registry)
    exceptions = Counter("flask_http_request_exceptions_total",
                         "Total number of HTTP requests which resulted in an exception", ("method", "status"),
                         registry=registry)
    children: dict[tuple[str, str, int], tuple] = {}

    def start():
        request.environ[_START] = perf_counter()

    def record(response):
        req = request._get_current_object()
        started = req.environ.pop(_START, None)
        if started is None:
            return response
        rule = req.url_rule
        route = rule.rule if rule is not None else "None"
        if route in EXCLUDED_RULES:
            return response
        method = req.method if req.method in METHODS else "other"
        key = (method, route, response.status_code)
        child = children.get(key)
        if child is None:
            status = str(response.status_code)
            child = children[key] = (duration.labels(method, route, status), total.labels(method, status))
        child[0].observe(perf_counter() - started)
        child[1].inc()
        return response

    def count_exception():
        """Called by the app's 500 handler (errors.py): a handled exception never reaches teardown."""
        method = request.method if request.method in METHODS else "other"
        exceptions.labels(method, "500").inc()

    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request(record)
    app.extensions["count_exception"] = count_exception


def init_app(app: Flask) -> PrometheusMetrics | None:
    if not app.config["METRICS_ENABLED"]:
        app.extensions["observe_query"] = None
        return None
    if multiprocess():
        from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics
        metrics = GunicornPrometheusMetrics(app, export_defaults=False)
    else:
        metrics = PrometheusMetrics(app, path=None, registry=CollectorRegistry(), export_defaults=False)
    metrics.info("flask_app_info", "Version of the running app", version=app.config["APP_VERSION"],
                 service=app.config["SERVICE_NAME"])
    registry = metrics.registry
    _request_hooks(app, registry)
    db_latency = Histogram("flask_db_query_duration_seconds", "Database query latency",
                           ("operation",), buckets=DB_BUCKETS, registry=registry)
    db_children = {}

    def observe_query(operation: str, seconds: float) -> None:
        child = db_children.get(operation)
        if child is None:
            child = db_children[operation] = db_latency.labels(operation)
        child.observe(seconds)

    app.extensions["metrics"] = metrics
    app.extensions["observe_query"] = observe_query
    app.extensions["log_events_dropped"] = Counter(
        "app_log_events_dropped_total",
        "Log records not queued for shipping because the queue was full (they still reached stdout)",
        registry=registry)
    return metrics
