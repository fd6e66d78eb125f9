"""ElasticsearchDouble: a TEST DOUBLE for the Elasticsearch and Kibana HTTP APIs that
services/setup/setup.sh calls. It records every request, answers as they do, and plays what
the tests need: built-in component templates that appear only after a few requests (as
Elasticsearch installs them asynchronously), and a wrong password (401)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ElasticsearchDouble:
    def __init__(self, templates_after: int = 2, password: str | None = None, marker=None):
        self.requests: list[dict] = []
        self.templates_after = templates_after  # GETs of a component template that 404 first
        self.password = password
        self.marker = marker  # the setup's done file: recorded as it is at each request
        self._template_gets = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "ElasticsearchDouble":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, auth: str) -> tuple[int, dict]:
        import base64
        if self.password is not None:
            _user, _, password = base64.b64decode(auth.split(" ", 1)[-1]).decode().partition(":")
            if password != self.password:
                return 401, {"error": {"type": "security_exception"}}
        if path.startswith("/_component_template/"):
            self._template_gets += 1
            installed = self._template_gets > self.templates_after
            return (200, {"component_templates": [{"name": path.rsplit("/", 1)[1]}]}) if installed else \
                (404, {"error": "resource_not_found_exception"})
        if path == "/_index_template/logs-flask" and method == "PUT":
            if self._template_gets <= self.templates_after:  # as Elasticsearch refuses it then
                return 400, {"error": {"type": "invalid_index_template_exception",
                                       "reason": "composable template [logs-flask] template after composition "
                                                 "with component templates [logs@mappings, logs@settings] is invalid"}}
            return 200, {"acknowledged": True}
        return 200, {"acknowledged": True}

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                double.requests.append({"method": self.command, "path": self.path, "body": body,
                                        "marker_present": bool(double.marker and double.marker.exists()),
                                        "headers": dict(self.headers)})
                status, answer = double.answer(self.command, self.path.split("?")[0],
                                               self.headers.get("Authorization", ""))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _serve

            def log_message(self, *args):
                pass

        return Handler
