"""A chunked request body under uWSGI, read as Gunicorn reads it.

uWSGI 2.0's HTTP socket ignores `Transfer-Encoding: chunked` (core/protocol.c): the app saw no
body at all, so a chunked upload (Caddy streams a client's chunked body as it comes) was
refused as empty, and uWSGI then closed the connection with the body unread, which the proxy
could see as a reset while still sending (Caddy: 502). Here the body is read with
uwsgi.chunked_read before the app runs and handed to it with its length, spooled to disk past
SPOOL_IN_MEMORY. The proxy in front bounds it (CLIENT_MAX_BODY_SIZE), as it does for Gunicorn.
Behind Nginx's uwsgi_pass the body always comes with a length (Nginx reads chunked bodies whole).
A body cut short or malformed is refused as Gunicorn refuses it: JSON 400, null request id.
"""

import tempfile

from .wsgi_limits import UNREADABLE_BODY, answer_refusal

SPOOL_IN_MEMORY = 1024 * 1024


def is_chunked(environ) -> bool:
    codings = environ.get("HTTP_TRANSFER_ENCODING", "")
    return codings.rsplit(",", 1)[-1].strip().lower() == "chunked"


def read_chunked(read_chunk):
    """The whole body from `read_chunk()` (uwsgi.chunked_read: the next chunk, b"" after the last,
    OSError when the body is cut short or malformed), as (file positioned at 0, length)."""
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # handed to the app, which reads it
    length = 0
    while chunk := read_chunk():
        body.write(chunk)
        length += len(chunk)
    body.seek(0)
    return body, length


class ChunkedInput:
    """WSGI middleware: a chunked request arrives at the app as a body of known length."""

    def __init__(self, app, read_chunk):
        self.app = app
        self.read_chunk = read_chunk

    def __call__(self, environ, start_response):
        if not is_chunked(environ) or environ.get("CONTENT_LENGTH"):
            return self.app(environ, start_response)
        try:
            body, length = read_chunked(self.read_chunk)
        except OSError:
            return answer_refusal(start_response, "400 Bad Request", UNREADABLE_BODY, ("Connection", "close"))
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(length)
        del environ["HTTP_TRANSFER_ENCODING"]  # the body the app reads is no longer chunked
        return self.app(environ, start_response)
