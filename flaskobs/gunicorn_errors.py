"""Gunicorn's own error answers (a request it refuses before the app sees it: a control character
in a header, too many headers, a repeated Content-Type) as JSON, like every other error.

Gunicorn writes them with `gunicorn.util.write_error(sock, status_int, reason, mesg)`, as HTML,
and has no setting or hook for it, so install() replaces that module attribute in the master
before any worker forks. gunicorn is pinned exactly, and tests/unit/test_gunicorn_error_hooks.py
checks the signature and the call we rely on. The request id is not known here (Gunicorn refuses
before it keeps the headers): Nginx puts its X-Request-ID on the answer.
"""

from gunicorn import util

from .wsgi_limits import json_refusal


def write_json_error(sock, status_int, reason, mesg):
    body = json_refusal(status_int, mesg or reason)
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, (head + body).encode("latin-1"))


def install() -> None:
    util.write_error = write_json_error
