"""The environ uWSGI hands the app, made what Gunicorn's is, so forwarded.py's trust rule decides:

- uWSGI takes wsgi.url_scheme from any client's X-Forwarded-Proto (or X-Forwarded-SSL), whoever
  sent it (core/protocol.c); a client on its HTTP socket made the app's links https. uWSGI
  terminates no TLS here, so the scheme is http until a trusted proxy's header says otherwise.
- A peer of uWSGI's HTTP socket on a Unix socket has the address 0.0.0.0, which the trust rule
  took for an untrusted IP peer (the proxy's X-Forwarded-* were ignored); Gunicorn gives "".
"""

_UNIX_PEER = "0.0.0.0"  # nosec B104  # an address uWSGI reports, not one we bind


class GunicornLikeEnviron:
    """WSGI middleware: the scheme and the Unix peer's address, as Gunicorn sets them."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        environ["wsgi.url_scheme"] = "http"
        if environ.get("REMOTE_ADDR") == _UNIX_PEER:
            environ["REMOTE_ADDR"] = ""
        return self.app(environ, start_response)
