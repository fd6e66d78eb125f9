"""Request, database and app metrics with prometheus-flask-exporter.

Under Gunicorn (PROMETHEUS_MULTIPROC_DIR set by the image, before Python starts) the
workers write to the multiprocess directory and the master serves the merged view on
METRICS_PORT (see gunicorn_metrics.py). Elsewhere (tests, `flask run`) each app gets its
own in-process registry, so tests never see each other's series.
"""

import os

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics

# Request latency buckets: fine below 100 ms where Flask requests live, few above.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
# Probes and static files are not user traffic; Nginx serves /static/ anyway.
EXCLUDED_PATHS = [r"^/healthz$", r"^/readyz$", r"^/static/"]


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def init_app(app: Flask) -> PrometheusMetrics:
    options = dict(group_by="url_rule", buckets=REQUEST_BUCKETS, excluded_paths=EXCLUDED_PATHS)
    if multiprocess():
        from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics
        metrics = GunicornPrometheusMetrics(app, **options)
    else:
        metrics = PrometheusMetrics(app, path=None, registry=CollectorRegistry(), **options)
    metrics.info("flask_app_info", "Version of the running app", version=app.config["APP_VERSION"],
                 service=app.config["SERVICE_NAME"])
    registry = metrics.registry
    db_latency = Histogram("flask_db_query_duration_seconds", "Database query latency",
                           ("operation",), buckets=DB_BUCKETS, registry=registry)
    children = {}

    def observe_query(operation: str, seconds: float) -> None:
        child = children.get(operation)
        if child is None:
            child = children[operation] = db_latency.labels(operation)
        child.observe(seconds)

    app.extensions["metrics"] = metrics
    app.extensions["observe_query"] = observe_query
    app.extensions["log_events_dropped"] = Counter(
        "app_log_events_dropped_total",
        "Log records not queued for shipping because the queue was full (they still reached stdout)",
        registry=registry)
    return metrics
