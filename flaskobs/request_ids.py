"""Request ids: reuse a well-formed X-Request-ID from the proxy, else make one (observer.py
assigns it to every request; this module says what a good one is and where it lives)."""

import os
import re

from flask import has_request_context, request

HEADER = "X-Request-ID"
ENVIRON_KEY = "flaskobs.request_id"
_FORMAT = re.compile(r"\A[A-Za-z0-9._:-]{1,128}\Z")  # what Nginx's map accepts too


def valid(value: str | None) -> bool:
    return bool(value) and _FORMAT.match(value) is not None


def new() -> str:
    return os.urandom(16).hex()  # 32 hex characters, like Nginx's $request_id


def current() -> str | None:
    """The id of the request being handled, or None outside a request."""
    if not has_request_context():
        return None
    return request.environ.get(ENVIRON_KEY)
