"""What Gunicorn refuses before the app sees it, refused alike under uWSGI, which passes it on
(behind Nginx's uwsgi_pass, or on its HTTP socket): a control character in a header value (400),
more header fields than Gunicorn's limit_request_fields (431), and two Content-Types (400; both
Nginx and uWSGI's HTTP parser join them into CONTENT_TYPE with a comma). As JSON with a null request
id, as gunicorn_errors.py answers them; the access line still records the refusal.
"""

import json
import re

MAX_FIELDS = 100  # Gunicorn's limit_request_fields (its default; gunicorn_conf.py keeps it)
# RFC 9110 5.5: a field value is visible characters, obs-text, spaces and tabs; Nginx itself
# refuses NUL, CR and LF, and passes the other controls on.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HEADERS_AS_CGI = ("CONTENT_TYPE", "CONTENT_LENGTH")  # the two headers without an HTTP_ name
# A comma outside a quoted parameter: one media type has none (RFC 9110 8.3), two joined have one.
_TWO_TYPES = re.compile(r'[^",]*(?:"(?:[^"\\]|\\.)*"[^",]*)*,')


UNREADABLE_BODY = "the request body could not be read: it is malformed or cut short"


def json_refusal(status: int, message: str) -> str:
    """The body of a refusal before the app, under either server: no request id is kept yet."""
    return json.dumps({"error": message, "status": status, "request_id": None}) + "\n"  # ASCII


def answer_refusal(start_response, status: str, message: str, *headers: tuple[str, str]) -> list[bytes]:
    """Answer a WSGI request with the JSON refusal for `status` (a status line)."""
    body = json_refusal(int(status[:3]), message).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]


def refusal(environ) -> tuple[str, str] | None:
    """(status line, message) for a request Gunicorn would refuse, else None."""
    values = [value for key, value in environ.items()
              if (key.startswith("HTTP_") or (key in _HEADERS_AS_CGI and value)) and isinstance(value, str)]
    if len(values) > MAX_FIELDS:
        return "431 Request Header Fields Too Large", "limit request headers fields"
    if _CONTROL.search("\t".join(values)):
        return "400 Bad Request", "Invalid header value"
    content_type = environ.get("CONTENT_TYPE")
    if content_type and "," in content_type and _TWO_TYPES.match(content_type):
        return "400 Bad Request", "Invalid header: more than one Content-Type"
    return None


class RequestLimits:
    """WSGI middleware: the JSON refusal, or the app."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        refused = refusal(environ)
        if refused is None:
            return self.app(environ, start_response)
        return answer_refusal(start_response, *refused)
