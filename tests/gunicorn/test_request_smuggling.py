"""Requests that smuggle or confuse, sent on raw sockets to each supported server speaking HTTP
directly (no Nginx in front, which refuses them itself: tests/integration/test_proxy_faults.py).

Gunicorn refuses every one with a 400, under its Python parser and its C parser (gunicorn_h1c)
alike. uWSGI's HTTP parser accepts most (it reads one of two
Content-Lengths, ignores Transfer-Encoding, unfolds headers): what holds under both is that a
request hidden in another's body is never served, since uWSGI answers one request per connection
(APP_PROTOCOL=http says Connection: close). README, "uWSGI instead of Gunicorn"."""

import socket

import pytest
from support.gunicorn import Gunicorn
from support.uwsgi import Uwsgi

HELLO = r'flask_http_request_total\{method="GET",status="200"\}'
SMUGGLED = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
CASES = {
    "content-length and chunked": b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "two content-lengths": b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n"
                           % len(SMUGGLED) + SMUGGLED,
    "two content-lengths, last zero": b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Length: 0"
                                      b"\r\n\r\n" % len(SMUGGLED) + SMUGGLED,
    "obs-fold": b"GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "bare CR in a value": b"GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "signed content-length": b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd",
    "space before the colon": b"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
}
SMUGGLING = ("content-length and chunked", "two content-lengths", "two content-lengths, last zero")


def statuses(port: int, data: bytes) -> list[int]:
    """The status of every response the server wrote on one connection, until it closed it."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass  # the server kept the connection open: what it answered is what counts
    return [int(line.split()[1]) for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.")]


@pytest.fixture(scope="module", params=[
    # Gunicorn's C parser (gunicorn_h1c, which the image's `auto` takes) must refuse all the
    # Python parser refuses; `fast` fails the start if it is not installed.
    pytest.param((Gunicorn, {"GUNICORN_HTTP_PARSER": "python"}), id="gunicorn-python-parser"),
    pytest.param((Gunicorn, {"GUNICORN_HTTP_PARSER": "fast"}), id="gunicorn-h1c-parser"),
    pytest.param((Uwsgi, {}), id="uwsgi"),
])
def server(request, tmp_path_factory):
    kind, env = request.param
    with kind(tmp_path_factory.mktemp(kind.__name__.lower()), GUNICORN_WORKERS=1, **env) as running:
        yield running


@pytest.mark.parametrize("case", list(CASES))
def test_a_confusing_request_is_refused_or_served_alone(server, case):
    before = server.value(HELLO)
    answered = statuses(server.port, CASES[case])
    assert len(answered) <= 1, answered  # never a second response on the connection
    if isinstance(server, Uwsgi):
        assert all(status < 500 for status in answered), answered
    else:
        assert answered == [400], answered
    if case in SMUGGLING:
        assert server.value(HELLO) == before, "the request hidden in the body was served"


def test_a_well_formed_request_on_a_raw_socket_is_answered(server):
    """Control for the refusals above: the same client, a correct request, a 200 counted once."""
    before = server.value(HELLO)
    assert statuses(server.port, b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == [200]
    assert server.value(HELLO) == before + 1


def test_a_second_response_on_one_connection_is_seen():
    """Negative control for `len(answered) <= 1`: a TEST DOUBLE, Python's http.server speaking
    HTTP/1.1 with keep-alive, answers two requests sent together, and both answers are read."""
    import http.server
    import threading

    from support.gunicorn import free_port

    class KeepAlive(http.server.BaseHTTPRequestHandler):
        protocol_version, timeout = "HTTP/1.1", 1

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    double = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), KeepAlive)
    threading.Thread(target=double.serve_forever, daemon=True).start()
    try:
        assert statuses(double.server_port, SMUGGLED + SMUGGLED) == [200, 200]
    finally:
        double.shutdown()
