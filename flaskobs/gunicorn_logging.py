"""Gunicorn's logger, in JSON like every other line: its own lines ("Booting worker",
"WORKER TIMEOUT", errors) and the access log, one line per request.

The access line is built once; it goes to stdout and, when the app ships logs, to Logstash
(the shipping handler on `gunicorn.access` reuses it as it is). Its fields match the app's log
lines (logs.py), with the route the app matched (`endpoint`) taken from the WSGI environ.
"""

import os
import time
from json.encoder import encode_basestring  # JSON string literal with quotes; C, no ASCII escaping

from gunicorn.glogging import Logger

from .batched_lines import BatchedLines
from .logs import JsonFormatter, encode_json, event_id, timestamp
from .observer import ROUTE_KEY
from .settings import identity
from .trace_context import ENVIRON_KEY as TRACE_KEY

STDOUT = BatchedLines(1)  # the access lines of this process, written a batch at a time


def _header(headers, name: str):
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return None


def _text(value) -> str:
    return "null" if value is None else encode_basestring(str(value))


def _int(value) -> str:
    return str(value) if isinstance(value, int) else "null"


def _status(resp) -> int | None:
    """The response's status code. Gunicorn's answer to a request it refuses sets only the
    `status` text ("400 Bad Request"): reading status_code there killed the worker."""
    code = getattr(resp, "status_code", None)
    if code is None:
        head = str(getattr(resp, "status", "") or "").split(" ", 1)[0]
        code = int(head) if head.isdigit() else None
    return code


class JsonLogger(Logger):
    def __init__(self, cfg):
        self._static = identity(os.environ)
        super().__init__(cfg)
        # The fields that never change, encoded once: the line is written by a template, a
        # third of the cost of building a dict and encoding it for every request.
        self._tail = "," + encode_json(self._static)[1:]

    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter(self._static)
        for handler in self.error_log.handlers:
            if getattr(handler, "_gunicorn", False):  # Gunicorn's own handlers only, never another's
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        get = environ.get
        method = get("REQUEST_METHOD")
        message = f"{method} {get('RAW_URI') or get('PATH_INFO')}"
        request_id = _header(resp.headers, "X-Request-ID") or get("HTTP_X_REQUEST_ID")
        trace_id, span_id = (get(TRACE_KEY) or (None, None))[:2]  # set by the app (observer.py), validated
        duration_ms = round(request_time.total_seconds() * 1000, 3)
        line = (
            f'{{"@timestamp":"{timestamp(time.time())}","event_id":"{event_id()}","level":"INFO",'
            f'"logger":"gunicorn.access","message":{_text(message)},"request_id":{_text(request_id)},'
            f'"trace_id":{_text(trace_id)},"span_id":{_text(span_id)},'
            f'"method":{_text(method)},"endpoint":{_text(get(ROUTE_KEY))},"path":{_text(get("PATH_INFO"))},'
            f'"status":{_int(_status(resp))},"bytes":{_int(getattr(resp, "sent", None))},'
            f'"duration_ms":{duration_ms!r},"remote_addr":{_text(get("REMOTE_ADDR"))},'
            f'"forwarded_for":{_text(get("HTTP_X_FORWARDED_FOR"))},"user_agent":{_text(get("HTTP_USER_AGENT"))},'
            f'"pid":{os.getpid()}{self._tail}'
        )
        try:
            if self._direct_stdout():
                STDOUT.write(line.encode() + b"\n")  # no logging machinery, one write per batch
            else:  # another handler (the log shipper) wants the record too
                self.access_log.info(line, extra={"_json_line": line})
        except Exception:
            self.exception("Failed to write the access log")

    def _direct_stdout(self) -> bool:
        handlers = self.access_log.handlers
        return (self.cfg.accesslog == "-" and len(handlers) == 1
                and getattr(handlers[0], "stream", None) is not None and handlers[0].stream.fileno() == 1)
