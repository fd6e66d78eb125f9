"""`python -m flaskobs.healthcheck [PATH]`: exit 0 when the app on this host answers PATH (default
/healthz; the systemd install asks /readyz).

For container health checks: it reads the address as Gunicorn does (GUNICORN_BIND, TCP or
unix:/path, else PORT), speaks uwsgi to uWSGI's default socket (APP_SERVER=uwsgi), and imports
nothing heavy, since it runs every few seconds.
"""

import http.client
import os
import socket
import sys

from .bind import bind, listen_address


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def connection(env) -> http.client.HTTPConnection:
    address = bind(env)
    if address.startswith("unix:"):
        return _UnixConnection(address.removeprefix("unix:"), timeout=2)
    host, port = listen_address(env)
    # Gunicorn's wildcard bind is asked on loopback. Always http: the scheme is ours, not a setting's.
    host = "127.0.0.1" if host in ("0.0.0.0", "", "::", "[::]") else host.strip("[]")  # nosec B104
    return http.client.HTTPConnection(host, port, timeout=2)


def uwsgi_status(env, path: str = "/healthz") -> int:
    """GET `path` over the uwsgi protocol (APP_SERVER=uwsgi, its default APP_PROTOCOL): a packet of
    CGI variables, as Nginx's uwsgi_pass sends it; uWSGI answers with an HTTP status line."""
    address = bind(env)
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = address.removeprefix("unix:")
    else:
        host, port = listen_address(env)
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::", "[::]") else host.strip("[]")  # nosec B104
        sock, target = socket.create_connection((host, port), timeout=2), None
    with sock:
        sock.settimeout(2)
        if target:
            sock.connect(target)
        sock.sendall(uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
                                   "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                                   "REMOTE_ADDR": "", "HTTP_HOST": "localhost"}))
        head = sock.recv(64).split(b"\r\n", 1)[0].split()
    if len(head) < 2 or not head[1].isdigit():
        raise OSError(f"not an HTTP status line from uWSGI: {head!r}")
    return int(head[1])


def uwsgi_packet(variables: dict[str, str]) -> bytes:
    """modifier1 0 (WSGI), the size (16-bit little-endian), modifier2 0, then each name and value
    with its 16-bit length: the uwsgi protocol's request."""
    body = b"".join(len(k).to_bytes(2, "little") + k.encode() + len(v).to_bytes(2, "little") + v.encode()
                    for k, v in variables.items())
    return b"\x00" + len(body).to_bytes(2, "little") + b"\x00" + body


def speaks_uwsgi(env) -> bool:
    return (env.get("APP_SERVER") or "").strip().lower() == "uwsgi" and \
        (env.get("APP_PROTOCOL") or "uwsgi").strip().lower() == "uwsgi"


def main(path: str = "/healthz") -> int:
    if speaks_uwsgi(os.environ):
        try:
            status = uwsgi_status(os.environ, path)
        except OSError as exc:
            print(f"healthcheck: {exc}", file=sys.stderr)
            return 1
        return 0 if status == 200 else 1
    conn = connection(os.environ)
    try:
        conn.request("GET", path)
        status = conn.getresponse().status
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
