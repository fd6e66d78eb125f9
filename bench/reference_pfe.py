"""Reference: prometheus-flask-exporter's documented Gunicorn set-up (examples/gunicorn)
applied to our app with its own metrics off, so only the instrumentation differs. What a user
who follows the exporter's README gets."""

from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics

from app import create_app

app = create_app({"METRICS_ENABLED": "false"})
metrics = GunicornPrometheusMetrics(app)
