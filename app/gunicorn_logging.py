"""Gunicorn logger that writes its access log as JSON lines, request id and duration included."""

import json
import os
from datetime import UTC, datetime

from gunicorn.glogging import Logger


def _header(headers, name: str):
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return None


class JsonAccessLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        doc = {
            "@timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": f"{environ.get('REQUEST_METHOD')} {environ.get('RAW_URI') or environ.get('PATH_INFO')}",
            "request_id": _header(resp.headers, "X-Request-ID") or environ.get("HTTP_X_REQUEST_ID"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": resp.status_code,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(json.dumps(doc, ensure_ascii=False))
        except Exception:
            self.exception("Failed to write the access log")
