"""Structured logging: one JSON object per line on stdout, the same object shipped to Logstash.

Field names are flat (request_id, status, duration_ms, ...) rather than ECS: they read the
same in the container log, in Kibana and in Nginx's access log, and a dedicated data stream
(logs-flask-*) means no clash with ECS sources. The Logstash pipeline expects exactly these.

Each request's access record is Gunicorn's JSON access log line (gunicorn_logging.py), with the
route the app matched (observer.ROUTE_KEY in the WSGI environ). It is printed; it is shipped only with
LOG_SHIP_ACCESS=true, because behind Nginx the shipped Nginx access log already records every
request (the app never sees some of them) and shipping both costs about a tenth of hello-world
throughput (docs/benchmarks.md, "access log shipped too").
"""

import importlib.util
import itertools
import json
import logging
import os
import sys
import time

from flask import Flask, has_request_context, request

from . import request_ids, trace_context
from .settings import ConfigError, Settings

# LogRecord attributes that are not user extras.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "request_context"}


# Built once: json.dumps with any option builds a new encoder on every call.
encode_json = json.JSONEncoder(default=str, ensure_ascii=False).encode
_second: tuple[int, str] = (-1, "")


def timestamp(created: float) -> str:
    """ISO-8601 UTC with milliseconds, as Logstash and Elasticsearch read it."""
    global _second
    whole = int(created)
    if _second[0] != whole:  # strftime once a second, not once a line
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"


def _new_id_source() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = os.urandom(8).hex(), itertools.count()


_new_id_source()
if hasattr(os, "register_at_fork"):  # not on Windows (Waitress), where nothing forks
    os.register_at_fork(after_in_child=_new_id_source)  # every worker gets its own random half


def event_id() -> str:
    """32 hex characters, unique per record: 64 random bits per process and a counter.
    Logstash uses it as the document id, so a batch sent twice is stored once. No syscall,
    unlike os.urandom per record."""
    return f"{_id_prefix}{next(_id_counter):016x}"


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
            "@timestamp": timestamp(record.created),
            "event_id": event_id(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            **self.static,
        }
        fields = record.__dict__
        context = fields.get("request_context")
        if context:
            doc.update(context)
        for key, value in fields.items():
            if key not in _RESERVED and key[0] != "_":
                doc[key] = value
        if record.exc_info:
            doc["error_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            doc["stack_trace"] = self.formatException(record.exc_info)
        line = encode_json(doc)
        record._json_line = line
        return line


class RequestContextFilter(logging.Filter):
    """Attach the request id, trace context and request fields to every record made inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_context" not in record.__dict__ and has_request_context():
            req = request._get_current_object()
            rule = req.url_rule
            ids = trace_context.current(req.environ)
            record.request_context = {
                "request_id": req.environ.get(request_ids.ENVIRON_KEY),
                "trace_id": ids[0] if ids else None,
                "span_id": ids[1] if ids else None,
                "method": req.method,
                "endpoint": rule.rule if rule is not None else None,
                "path": req.path,
                "remote_addr": req.remote_addr,  # the real client, once ProxyFix has run
                # request.user_agent is falsy with current Werkzeug; read the header itself.
                "user_agent": req.headers.get("User-Agent", ""),
            }
        return True


class StdoutHandler(logging.StreamHandler):
    """A StreamHandler on whatever sys.stdout is when a record comes, not when it was made
    (test harnesses and servers may swap sys.stdout after the app is built)."""

    def __init__(self):
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value):
        pass


def install(app: Flask, settings: Settings, counters=None):
    """JSON lines on stdout for the whole process (the root logger), and shipping when
    LOGSTASH_HOST is set; return the shipping handler or None."""
    formatter = JsonFormatter(settings.static_fields())
    context = RequestContextFilter()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_flaskobs", False):  # a second app in this process replaces the first's
            root.removeHandler(handler)
            handler.close()
    # The JSON lines carry no source file, function, thread or task: skip collecting them
    # for every record (the logging docs' "Optimization" section; about 2 us a record).
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = logging.logAsyncioTasks = False
    stdout = StdoutHandler()
    stdout._flaskobs = True
    stdout.setFormatter(formatter)
    stdout.addFilter(context)
    root.addHandler(stdout)
    root.setLevel(settings.log_level)
    app.logger.handlers.clear()  # Flask's default handler would print every line twice
    app.logger.propagate = True

    if not settings.logstash_host:
        return None
    if importlib.util.find_spec("fcntl") is None:  # Windows
        raise ConfigError("LOGSTASH_HOST is set, but shipping needs flock to own its queue files, which this "
                          "system lacks (Windows); leave LOGSTASH_HOST empty: the JSON logs still go to stdout")
    from . import logship
    shipper = logship.install(settings, formatter, counters)
    shipper.addFilter(context)
    root.addHandler(shipper)
    access = logging.getLogger("gunicorn.access")
    for handler in list(access.handlers):
        if isinstance(handler, logship.ShippingHandler):
            access.removeHandler(handler)
    if settings.log_ship_access:  # the line is already JSON (gunicorn_logging.py): shipped as is
        access.addHandler(shipper)
    return shipper
