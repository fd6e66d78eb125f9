"""The JSON access line, one per request, as every server flaskobs runs under writes it (Gunicorn:
gunicorn_logging.py; Waitress: waitress_serve.py). Its fields match the app's log lines (logs.py),
with the route the app matched (`endpoint`) taken from the WSGI environ. Written by a template: a
third of the cost of building a dict and encoding it for every request. No Gunicorn import here.
"""

import os
import time
from json.encoder import encode_basestring  # JSON string literal with quotes; C, no ASCII escaping

from .logs import encode_json, event_id, timestamp
from .observer import ROUTE_KEY
from .trace_context import ENVIRON_KEY as TRACE_KEY


def _text(value) -> str:
    return "null" if value is None else encode_basestring(str(value))


def _int(value) -> str:
    return str(value) if isinstance(value, int) else "null"


def fixed_tail(static: dict) -> str:
    """The fields that never change (settings.identity), encoded once: `,"service":...}`."""
    return "," + encode_json(static)[1:]


def access_line(environ: dict, *, status: int | None, sent: int | None, request_id: str | None, seconds: float,
                tail: str) -> str:
    """One JSON object, without its newline; `tail` is fixed_tail()'s."""
    get = environ.get
    method = get("REQUEST_METHOD")
    message = f"{method} {get('RAW_URI') or get('PATH_INFO')}"
    trace_id, span_id = (get(TRACE_KEY) or (None, None))[:2]  # set by the app (observer.py), validated
    return (
        f'{{"@timestamp":"{timestamp(time.time())}","event_id":"{event_id()}","level":"INFO",'
        f'"logger":"gunicorn.access","message":{_text(message)},"request_id":{_text(request_id)},'
        f'"trace_id":{_text(trace_id)},"span_id":{_text(span_id)},'
        f'"method":{_text(method)},"endpoint":{_text(get(ROUTE_KEY))},"path":{_text(get("PATH_INFO"))},'
        f'"status":{_int(status)},"bytes":{_int(sent)},'
        f'"duration_ms":{round(seconds * 1000, 3)!r},"remote_addr":{_text(get("REMOTE_ADDR"))},'
        f'"forwarded_for":{_text(get("HTTP_X_FORWARDED_FOR"))},"user_agent":{_text(get("HTTP_USER_AGENT"))},'
        f'"pid":{os.getpid()}{tail}'
    )
