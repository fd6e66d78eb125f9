"""Reference: prometheus-flask-exporter's documented Gunicorn set-up (examples/gunicorn), the
same hello-world route. What a user who follows the exporter's README gets."""

from flask import Flask
from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics

app = Flask(__name__)
metrics = GunicornPrometheusMetrics(app)


@app.get("/api/hello")
def hello():
    return {"message": "hello"}
