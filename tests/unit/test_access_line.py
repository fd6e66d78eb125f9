"""Gunicorn's JSON access line is written by a template: it must be valid JSON with the same
fields and values a JSON encoder would give, whatever the request carried."""

import datetime
import json

import pytest
from gunicorn.config import Config

from flaskobs.gunicorn_logging import JsonLogger
from flaskobs.observer import ROUTE_KEY
from flaskobs.trace_context import ENVIRON_KEY as TRACE_KEY


class Response:
    def __init__(self, status_code, sent, headers):
        self.status_code, self.sent, self.headers = status_code, sent, headers


TRACE = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")


@pytest.mark.parametrize(("path", "agent", "route", "sent", "trace"), [
    ("/api/hello", "wrk", "/api/hello", 20, TRACE),
    ('/a"b\\c', 'evil"agent\\', None, None, TRACE),           # quotes and backslashes
    ("/caf\u00e9/\u6f22\u5b57", "bot\n{\"x\":1}\r\t\x00\x1f", "/x", 0, None),  # non-ASCII, control characters
    ("/", None, None, None, None),                     # no User-Agent at all; the app never saw it
])
def test_access_line_is_the_json_of_its_fields(capfd, monkeypatch, path, agent, route, sent, trace):
    monkeypatch.setenv("SERVICE_NAME", 'svc "q"')
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = JsonLogger(cfg)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path, "REMOTE_ADDR": "10.0.0.1",
               "HTTP_X_FORWARDED_FOR": "203.0.113.9", ROUTE_KEY: route}
    if agent is not None:
        environ["HTTP_USER_AGENT"] = agent
    if trace is not None:
        environ[TRACE_KEY] = trace
    response = Response(404, sent, [("Content-Type", "application/json"), ("x-request-id", "rid-1")])
    capfd.readouterr()
    logger.access(response, None, environ, datetime.timedelta(microseconds=1500))
    line = capfd.readouterr().out
    assert line.endswith("\n") and line.count("\n") == 1  # one line, whatever the request held
    doc = json.loads(line)
    assert doc == {
        "@timestamp": doc["@timestamp"], "event_id": doc["event_id"], "level": "INFO", "logger": "gunicorn.access",
        "message": f"GET {path}", "request_id": "rid-1",
        "trace_id": trace and trace[0], "span_id": trace and trace[1], "method": "GET", "endpoint": route, "path": path,
        "status": 404, "bytes": sent, "duration_ms": 1.5, "remote_addr": "10.0.0.1",
        "forwarded_for": "203.0.113.9", "user_agent": agent, "pid": doc["pid"],
        "service": 'svc "q"', "environment": doc["environment"], "version": doc["version"],
    }
    assert len(doc["event_id"]) == 32 and doc["@timestamp"].endswith("Z")
