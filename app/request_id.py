"""Request ids: reuse a well-formed X-Request-ID from the proxy, else make one."""

import logging
import os

from flask import Flask, g, request

from .config import valid_request_id

HEADER = "X-Request-ID"
log = logging.getLogger(__name__)


def _assign():
    incoming = request.headers.get(HEADER)
    if valid_request_id(incoming):
        g.request_id = incoming
        return
    g.request_id = os.urandom(16).hex()  # 32 hex characters, like Nginx's $request_id
    if incoming is not None:
        # Kept out of the id on purpose: it may carry control characters or megabytes.
        log.warning("ignored a malformed X-Request-ID of %d characters; generated %s",
                    len(incoming), g.request_id)


def _echo(response):
    response.headers[HEADER] = g.get("request_id") or ""
    return response


def init_app(app: Flask) -> None:
    # First in line, so every later hook and log record of the request sees the id.
    app.before_request_funcs.setdefault(None, []).insert(0, _assign)
    app.after_request(_echo)
