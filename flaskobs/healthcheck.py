"""`python -m flaskobs.healthcheck`: exit 0 when the app on this host answers /healthz.

For container health checks: it reads the port as Gunicorn does (GUNICORN_BIND, else PORT) and
imports nothing heavy, since it runs every few seconds.
"""

import os
import sys
import urllib.request

from .bind import listen_address


def main() -> int:
    host, port = listen_address(os.environ)
    # Gunicorn's wildcard bind is asked on loopback.
    host = "127.0.0.1" if host in ("0.0.0.0", "", "::", "[::]") else host.strip("[]")  # nosec B104
    url = f"http://{host}:{port}/healthz"  # always http: the scheme is ours, not a setting's
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
