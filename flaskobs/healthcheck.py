"""`python -m flaskobs.healthcheck`: exit 0 when the app on this host answers /healthz.

For container health checks: it reads the address as Gunicorn does (GUNICORN_BIND, TCP or
unix:/path, else PORT) and imports nothing heavy, since it runs every few seconds.
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


def main() -> int:
    conn = connection(os.environ)
    try:
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
