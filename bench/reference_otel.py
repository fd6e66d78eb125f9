"""Reference: OpenTelemetry's Flask instrumentation with its Prometheus exporter, the same
hello-world route, one MeterProvider per Gunicorn worker (what OTel's docs describe)."""

from flask import Flask
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.metrics import MeterProvider

metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)


@app.get("/api/hello")
def hello():
    return {"message": "hello"}
