"""Gunicorn config of the exporter's documented example: metrics from the master on a port."""

import os

from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics

bind = os.environ["GUNICORN_BIND"]
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))


def when_ready(server):
    GunicornPrometheusMetrics.start_http_server_when_ready(int(os.environ["METRICS_PORT"]), host="127.0.0.1")


def child_exit(server, worker):
    GunicornPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
