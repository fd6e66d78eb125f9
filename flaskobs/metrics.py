"""Request, database and app metrics, on prometheus-flask-exporter's registry set-up.

Under Gunicorn (PROMETHEUS_MULTIPROC_DIR set before Python starts: flaskobs-serve does it) the
workers write to the multiprocess directory and the master serves the merged view on
METRICS_PORT (gunicorn_metrics.py). Elsewhere (tests, `flask run`) each app gets its own
in-process registry, so tests never see each other's series.

The request metrics keep the exporter's names and labels (flask_http_request_duration_seconds
by method, url_rule, status; flask_http_request_total; flask_http_request_exceptions_total)
but are recorded by observer.py's middleware instead of the exporter's defaults, which cost
more (docs/benchmarks.md compares its documented set-up): context-local lookups on every
attribute, a regex per excluded path, a labels dict built and looked up under a lock for every
sample. Here the label children are cached per (method, route, status), so a request costs one
dict lookup and three multiprocess value writes. Methods outside the standard ones count as
"other", so a client cannot grow the number of series.
"""

import logging
import os
from bisect import bisect_left
from time import perf_counter, time
from typing import NamedTuple

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics

from . import exemplars, request_ids, trace_context
from .observer import ROUTE_KEY, START_KEY
from .settings import Settings

log = logging.getLogger(__name__)
# Request latency buckets: fine below 100 ms where Flask requests live, few above; 0.3 is the
# latency SLO's default threshold (prometheus/slo/render_slo_rules.py reads its ratio exactly).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
# Probes and static files are not user traffic; Nginx serves /static/ anyway.
EXCLUDED_RULES = frozenset({"/healthz", "/readyz", "/static/<path:filename>"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The request metrics' names and labels, as the exporter names them (and the exemplar keys must).
DURATION, DURATION_LABELS = "flask_http_request_duration_seconds", ("method", "url_rule", "status")
TOTAL, TOTAL_LABELS = "flask_http_request_total", ("method", "status")


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ShippingCounters(NamedTuple):
    """What the log shipper (logship.py) counts; workers' sender threads write them."""
    dropped: Counter
    shipped: Counter
    failed: Counter


class RequestMetrics:
    """The app's metric families, and the cheap ways to record into them."""

    def __init__(self, exporter: PrometheusMetrics, exemplar_dir: str | None = None):
        self.exporter = exporter
        # Where this worker writes its exemplars (exemplars.py); None: none recorded.
        self.exemplar_dir = exemplar_dir
        self.registry = registry = exporter.registry
        self._duration = Histogram(DURATION, "Flask HTTP request duration in seconds", DURATION_LABELS,
                                   buckets=REQUEST_BUCKETS, registry=registry)
        self._total = Counter(TOTAL, "Total number of HTTP requests", TOTAL_LABELS, registry=registry)
        self._exceptions = Counter("flask_http_request_exceptions_total",
                                   "Total number of HTTP requests which resulted in an exception",
                                   ("method", "status"), registry=registry)
        self._db_latency = Histogram("flask_db_query_duration_seconds", "Database query latency", ("operation",),
                                     buckets=DB_BUCKETS, registry=registry)
        self.log_shipping = ShippingCounters(
            dropped=Counter("app_log_events_dropped_total", "Log records not queued for shipping because "
                            "the queue was full (they still reached stdout)", registry=registry),
            shipped=Counter("app_log_events_shipped_total", "Log events Logstash confirmed it read",
                            registry=registry),
            failed=Counter("app_log_ship_failures_total",
                           "Batches of log events Logstash did not take (refused, reset, timed out); kept and retried",
                           registry=registry))
        self._children: dict[tuple[str, str, str], tuple] = {}
        self._db_children: dict[str, object] = {}

    def record(self, environ: dict, status: str) -> None:
        """Count a finished request (once: the start time is taken out of the environ)."""
        started = environ.pop(START_KEY, None)
        if started is None:
            return
        route = environ.get(ROUTE_KEY)
        route = "None" if route is None else route  # unmatched (404): one series for all of them
        if route in EXCLUDED_RULES:
            return
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in METHODS else "other"
        code = status[:3]
        key = (method, route, code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._child(method, route, code)
        elapsed = perf_counter() - started
        child[0].observe(elapsed)
        child[1].inc()
        if self.exemplar_dir is not None:
            try:
                self._exemplar(environ, child, elapsed)
            except OSError:  # no room for the file: the request and its counts matter more
                log.exception("exemplars switched off in this worker: their file could not be written")
                self.exemplar_dir = None

    def _exemplar(self, environ: dict, child: tuple, elapsed: float) -> None:
        store, now = exemplars.writer(self.exemplar_dir), time()
        bucket = child[2][bisect_left(REQUEST_BUCKETS, elapsed)]
        if store.due(bucket, now) or store.due(child[3], now):  # sampled (exemplars.py) before any work
            ids = environ.get(trace_context.ENVIRON_KEY)
            tag = exemplars.labels(environ.get(request_ids.ENVIRON_KEY), ids[0] if ids else None)
            if tag is not None:
                store.write(bucket, tag, elapsed, now)
                store.write(child[3], tag, 1.0, now)

    def _child(self, method: str, route: str, code: str) -> tuple:
        """The label children of one (method, route, status), and their exemplar series keys."""
        latency, total = (method, route, code), (method, code)
        return (self._duration.labels(*latency), self._total.labels(*total),
                exemplars.bucket_keys(DURATION, dict(zip(DURATION_LABELS, latency, strict=True)), REQUEST_BUCKETS),
                exemplars.series_key(TOTAL, dict(zip(TOTAL_LABELS, total, strict=True))))

    def count_exception(self, method: str) -> None:
        self._exceptions.labels(method if method in METHODS else "other", "500").inc()

    def observe_query(self, operation: str, seconds: float) -> None:
        child = self._db_children.get(operation)
        if child is None:
            child = self._db_children[operation] = self._db_latency.labels(operation)
        child.observe(seconds)


def install(app: Flask, settings: Settings) -> RequestMetrics | None:
    if not settings.metrics_enabled:
        return None
    if multiprocess():
        from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics
        exporter = GunicornPrometheusMetrics(app, export_defaults=False)
    else:
        exporter = PrometheusMetrics(app, path=None, registry=CollectorRegistry(), export_defaults=False)
    exporter.info("flask_app_info", "Version of the running app", version=settings.app_version,
                  service=settings.service_name)
    # Exemplars need the master's side (gunicorn_metrics.py), which serves the workers' files.
    exemplar_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] if multiprocess() and settings.metrics_exemplars else None
    return RequestMetrics(exporter, exemplar_dir)
