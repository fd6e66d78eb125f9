"""A TEST DOUBLE for an alert receiver: an HTTP server that takes Alertmanager's webhook POSTs and
prints each, as one JSON line {"status": answered, "body": the notification}, on stdout.

    python3 webhook_double.py PORT      # FAIL_FIRST=N: answer the first N POSTs with a 500

Standard library only: it runs in the bundle's Python image (tests/integration/compose.alerts.yaml).
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_to_fail = int(os.environ.get("FAIL_FIRST", "0"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # the health check
        self._answer(200)

    def do_POST(self):
        global _to_fail
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _lock:
            status = 500 if _to_fail > 0 else 200
            _to_fail -= 1
            print(json.dumps({"double": "webhook", "path": self.path, "status": status,
                              "body": json.loads(body or b"null")}), flush=True)
        self._answer(status)

    def _answer(self, status: int):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # stdout carries the notifications only
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()  # nosec B104: inside its container
