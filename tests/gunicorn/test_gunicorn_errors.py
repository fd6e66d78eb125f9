"""Requests Gunicorn refuses before the app sees them get JSON, not Gunicorn's HTML page
(flaskobs/gunicorn_errors.py), and a worker survives them: under its Python parser and its C
parser (gunicorn_h1c) alike, and under uWSGI, which would pass them to the app and refuses them
the same way (flaskobs/wsgi_limits.py)."""

import json
import socket

import pytest
from support.gunicorn import Gunicorn
from support.uwsgi import Uwsgi
from support.waiting import wait_until

REFUSED = [  # (head, status): what Nginx passes on but Gunicorn refuses
    (b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-ID: ctl-1\r\nX-Bad: a\x01b\r\n", 400),
    (b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-ID: many-1\r\n"
     + b"".join(b"X-H%d: v\r\n" % i for i in range(120)), 431),
    (b"POST /items HTTP/1.1\r\nHost: x\r\nX-Request-ID: twice-1\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n", 400),
]


def access_lines(server: Gunicorn) -> list[dict]:
    return [json.loads(line) for line in server.output().splitlines() if '"logger":"gunicorn.access"' in line]


def exchange(port: int, data: bytes, half_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if half_close:  # the client stops sending, still reads
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def start(request, tmp_path_factory):
    if request.param == "uwsgi":
        kind, env = Uwsgi, {}
    else:
        kind, env = Gunicorn, {"GUNICORN_HTTP_PARSER": request.param}
    return kind(tmp_path_factory.mktemp("errors"), GUNICORN_WORKERS="1", METRICS_ENABLED="false", **env)


@pytest.fixture(scope="module", params=["python", "fast", "uwsgi"], ids=["python-parser", "h1c-parser", "uwsgi"])
def server(request, tmp_path_factory):
    """Under both of Gunicorn's HTTP parsers (fast is gunicorn_h1c's C parser), and uWSGI's."""
    with start(request, tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module", params=["python", "fast"], ids=["python-parser", "h1c-parser"])
def gunicorn(request, tmp_path_factory):
    """Gunicorn only: uWSGI's chunk parser reads a size that is not hex as 0, the last chunk
    (core/chunked.c), and so serves the body before it (README, "uWSGI instead of Gunicorn";
    behind Nginx, Nginx reads the chunks and sends a Content-Length)."""
    with start(request, tmp_path_factory) as running:
        yield running


@pytest.mark.parametrize(("head", "status"), REFUSED, ids=["control-char", "120-headers", "two-content-types"])
def test_refused_requests_get_a_json_error_with_their_id(server, head, status):
    answer = exchange(server.port, head + b"\r\n")
    head_out, _, body = answer.partition(b"\r\n\r\n")
    lines = head_out.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0].startswith(f"HTTP/1.1 {status} "), answer[:300]
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    payload = json.loads(body)
    assert payload == {"error": payload["error"], "status": status, "request_id": None} and payload["error"]
    # The Python parser refuses this one after the request is made, and logs it: writing that access
    # line raised and killed the worker. The C parser refuses it while parsing, as the others.
    if b"twice" in head and server.env.get("GUNICORN_HTTP_PARSER") == "python":
        wait_until(lambda: [entry for entry in access_lines(server) if entry["status"] == 400
                            and entry["method"] == "POST"], 5, "the refused request's access line")
    assert "exited with code" not in server.output()


CUT_SHORT = b"POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
BAD_SIZE = b"POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n"


def assert_unreadable_body_refused(server: Gunicorn, request_bytes: bytes) -> None:
    answer = exchange(server.port, request_bytes, half_close=True)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"malformed or cut short" in answer
    assert "Traceback" not in server.output() and "exited with code" not in server.output()


def test_a_chunked_body_cut_short_is_a_400_not_an_app_error(server):
    """Gunicorn raises its parse error inside the view that reads the body; uncaught, Flask made
    it a 500 counted as an exception. uWSGI's HTTP socket ignored the chunks (the app read an empty
    body); flaskobs/uwsgi_chunked.py reads them first and refuses a cut body as Gunicorn does."""
    assert_unreadable_body_refused(server, CUT_SHORT)


def test_a_chunk_size_that_is_not_hex_is_a_400_not_an_app_error(gunicorn):
    assert_unreadable_body_refused(gunicorn, BAD_SIZE)


@pytest.mark.parametrize("size", [40, 3 * 1024 * 1024], ids=["small", "spooled-3MiB"])
def test_a_chunked_body_reaches_the_app_whole(server, size):
    """A chunked upload, as Caddy streams a client's: the app reads every byte. Under uWSGI it read
    an empty body and answered 400 before flaskobs/uwsgi_chunked.py."""
    body = json.dumps({"name": "n" * size, "price": 2}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                      for i in range(0, len(body), 65536))
    answer = exchange(server.port, b"POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["bytes"] == len(body)
