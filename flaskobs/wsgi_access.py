"""The JSON access line for servers that have no access-log hook of their own (Waitress, uWSGI):
WSGI middleware that writes access_line.py's line when the response body is done (or the client
left), to the `gunicorn.access` logger Gunicorn's lines use, so LOG_SHIP_ACCESS and the
dashboards work alike under every server."""

import logging
import os
import sys
import threading
from time import perf_counter

from .access_line import access_line


class AccessLog:
    """WSGI middleware: one JSON access line per request, when its body is done (or the client left)."""

    def __init__(self, app, log: logging.Logger, tail: str):
        # One write per line, not Gunicorn's batches: under uWSGI batching gained 0.76 -> 0.78 of
        # bare (inside the rounds' spread) and lost the last lines when uWSGI stopped brutally.
        # With stdout the only handler, the line skips the logging machinery and goes to fd 1 as
        # bytes, as Gunicorn's does (gunicorn_logging.py): uWSGI full/bare 0.716 -> 0.760, same run.
        self.app, self.log, self.tail = app, log, tail
        self._lock = threading.Lock()  # a line over PIPE_BUF takes several writes; threads take turns

    def __call__(self, environ, start_response):
        started, seen = perf_counter(), {}

        def start(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        return _Body(body, lambda sent: self._write(environ, seen, sent, perf_counter() - started))

    def _write(self, environ, seen: dict, sent: int, seconds: float) -> None:
        status = str(seen.get("status", ""))[:3]
        request_id = next((v for k, v in seen.get("headers", ()) if k.lower() == "x-request-id"),
                          environ.get("HTTP_X_REQUEST_ID"))
        line = access_line(environ, status=int(status) if status.isdigit() else None, sent=sent,
                           request_id=request_id, seconds=seconds, tail=self.tail)
        if self._direct_stdout():
            try:
                self._write_line(line.encode() + b"\n")
            except OSError:  # stdout gone (a closed pipe): as logging's handlers do, never fail the request
                pass
        else:  # another handler (the log shipper) wants the record too
            self.log.info(line, extra={"_json_line": line})

    def _direct_stdout(self) -> bool:
        handlers = self.log.handlers
        if len(handlers) != 1:
            return False
        stream = getattr(handlers[0], "stream", None)
        try:
            return stream is not None and stream.fileno() == 1
        except (OSError, ValueError):  # a stream with no descriptor
            return False

    def _write_line(self, data: bytes) -> None:
        sys.stdout.flush()  # the app's own lines written before this one come first
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(1, view):]


class _Body:
    """The app's response body, passed through, counting bytes; `done(sent)` once, on close."""

    def __init__(self, body, done):
        self.body, self.done, self.sent = body, done, 0

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done(self.sent)


def access_logger(formatter) -> logging.Logger:
    """The logger Gunicorn's access lines use: stdout, plus the shipper when logs.install put it
    there; never the root logger's handlers too."""
    access = logging.getLogger("gunicorn.access")
    access.propagate = False
    access.setLevel(logging.INFO)
    stdout = logging.StreamHandler(sys.stdout)
    stdout.setFormatter(formatter)
    access.addHandler(stdout)
    return access
