"""Structured logging: one JSON object per line on stdout, the same object shipped to Logstash.

Field names are flat (request_id, status, duration_ms, ...) rather than ECS: they read the
same in the container log, in Kibana and in Nginx's access log, and a dedicated data stream
(logs-flask-*) means no clash with ECS sources. The Logstash pipeline expects exactly these.
"""

import json
import logging
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

# LogRecord attributes that are not user extras.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line; formatted once and shared by every handler."""

    def __init__(self, static: dict):
        super().__init__()
        self.static = static

    def format(self, record: logging.LogRecord) -> str:
        cached = record.__dict__.get("_json_line")
        if cached is not None:
            return cached
        doc = {
            "@timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "event_id": uuid.uuid4().hex,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            **self.static,
        }
        context = record.__dict__.get("request_context")
        if context:
            doc.update(context)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and key != "request_context":
                doc[key] = value
        if record.exc_info:
            doc["error_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            doc["stack_trace"] = self.formatException(record.exc_info)
        line = json.dumps(doc, default=str, ensure_ascii=False)
        record._json_line = line
        return line


class RequestContextFilter(logging.Filter):
    """Attach the request id and request fields to every record made inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_context" not in record.__dict__:
            rule = request.url_rule
            record.request_context = {
                "request_id": g.get("request_id"),
                "method": request.method,
                "endpoint": rule.rule if rule is not None else None,
                "path": request.path,
                "remote_addr": request.remote_addr,  # the real client, once ProxyFix has run
                # request.user_agent is falsy with current Werkzeug; read the header itself.
                "user_agent": request.headers.get("User-Agent", ""),
            }
        return True


def _access_log_start():
    g.request_started = time.perf_counter()


def _make_access_logger(access):
    def _access_log(response):
        started = g.pop("request_started", None)
        if started is not None:
            access.info("request", extra={
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "bytes": response.calculate_content_length(),
            })
        return response
    return _access_log


def init_app(app: Flask) -> None:
    cfg = app.config
    formatter = JsonFormatter({"service": cfg["SERVICE_NAME"], "environment": cfg["APP_ENV"],
                               "version": cfg["APP_VERSION"]})
    context = RequestContextFilter()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_flaskobs", False):
            root.removeHandler(handler)
            handler.close()
    stdout = logging.StreamHandler(sys.stdout)
    stdout._flaskobs = True
    stdout.setFormatter(formatter)
    stdout.addFilter(context)
    root.addHandler(stdout)
    root.setLevel(cfg["LOG_LEVEL"])
    app.logger.handlers.clear()  # Flask's default handler would print every line twice
    app.logger.propagate = True

    # The per-request record goes to Logstash only: Gunicorn's JSON access log covers stdout.
    access = logging.getLogger("app.access")
    access.propagate = False
    access.handlers.clear()
    access.setLevel(logging.INFO)

    if cfg["LOGSTASH_HOST"]:
        from . import logship
        shipper = logship.install(cfg, formatter, app.extensions.get("log_events_dropped"))
        shipper.addFilter(context)
        root.addHandler(shipper)
        access.addHandler(shipper)
        app.extensions["log_shipper"] = shipper
        app.before_request(_access_log_start)
        app.after_request(_make_access_logger(access))
    # Without Logstash the access record would have no handler: skip its cost entirely.
