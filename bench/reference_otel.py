"""Reference: OpenTelemetry's Flask instrumentation with its Prometheus exporter, one
MeterProvider per Gunicorn worker (what OTel's docs describe), applied to our app with its own
metrics off, so only the instrumentation differs."""

import os

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.metrics import MeterProvider

os.environ["METRICS_ENABLED"] = "false"  # the demo's own metrics off: only the instrumentation differs

from demo import create_app

metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
app = create_app()
FlaskInstrumentor().instrument_app(app)
