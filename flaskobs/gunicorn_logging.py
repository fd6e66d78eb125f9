"""Gunicorn's logger, in JSON like every other line: its own lines ("Booting worker",
"WORKER TIMEOUT", errors) and the access log, one line per request.

The access line is built once; it goes to stdout and, when the app ships logs, to Logstash
(the shipping handler on `gunicorn.access` reuses it as it is). Its fields match the app's log
lines (logs.py), with the route the app matched (`endpoint`) taken from the WSGI environ.
"""

import os

from gunicorn.glogging import Logger

from .access_line import access_line, fixed_tail
from .batched_lines import BatchedLines
from .logs import JsonFormatter
from .settings import identity

STDOUT = BatchedLines(1)  # the access lines of this process, written a batch at a time


def _header(headers, name: str):
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return None


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
        self._tail = fixed_tail(self._static)

    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter(self._static)
        for handler in self.error_log.handlers:
            if getattr(handler, "_gunicorn", False):  # Gunicorn's own handlers only, never another's
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        line = access_line(environ, status=_status(resp), sent=getattr(resp, "sent", None),
                           request_id=_header(resp.headers, "X-Request-ID") or environ.get("HTTP_X_REQUEST_ID"),
                           seconds=request_time.total_seconds(), tail=self._tail)
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
