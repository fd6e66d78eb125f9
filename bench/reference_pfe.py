"""Reference: prometheus-flask-exporter's documented Gunicorn set-up (examples/gunicorn)
applied to our app with its own metrics off, so only the instrumentation differs. What a user
who follows the exporter's README gets."""

import os

from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics

os.environ["METRICS_ENABLED"] = "false"  # the demo's own metrics off: only the instrumentation differs

from demo import create_app

app = create_app()
metrics = GunicornPrometheusMetrics(app)
