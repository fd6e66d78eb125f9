"""The WSGI middleware around the app: the request id and trace context, the request's timing
and metrics, and the ids on the response.

A middleware (Flask's documented `app.wsgi_app` wrapping) rather than Flask hooks: it runs
before the first and after the last hook the app registers, whatever order the app and
flaskobs were set up in, and it sees every response, the app's error pages included.
"""

import logging
from time import perf_counter

from . import request_ids, trace_context

START_KEY = "flaskobs.request_start"
ROUTE_KEY = "flaskobs.route"  # the url rule the app matched, for metrics and the access log
log = logging.getLogger(__name__)


class RequestObserver:
    def __init__(self, wsgi_app, metrics=None, shipper=None):
        self.wsgi_app = wsgi_app
        self.metrics = metrics  # metrics.RequestMetrics, or None when switched off
        self.shipper = shipper  # logship.ShippingHandler, or None when not shipping

    def __call__(self, environ, start_response):
        environ[START_KEY] = perf_counter()
        if self.shipper is None:
            return self._observe(environ, start_response)
        # What the request logs is on disk before its response is sent (the app has returned;
        # the server writes the response after this returns).
        self.shipper.hold()
        try:
            return self._observe(environ, start_response)
        finally:
            self.shipper.persist()

    def _observe(self, environ, start_response):
        incoming = environ.get("HTTP_X_REQUEST_ID")
        if incoming is not None and request_ids.valid(incoming):
            rid = incoming
        else:
            rid = request_ids.new()
            if incoming is not None:
                # Kept out of the id and the line on purpose: it may carry control characters or megabytes.
                log.warning("ignored a malformed X-Request-ID of %d characters; generated %s",
                            len(incoming), rid, extra={"request_id": rid})
        environ[request_ids.ENVIRON_KEY] = rid
        trace_context.start(environ)
        metrics = self.metrics

        def start(status, headers, exc_info=None):
            headers = [h for h in headers if h[0].lower() != "x-request-id"]  # one id, ours
            headers.append((request_ids.HEADER, rid))
            # The ids the request logged with (OpenTelemetry's when it traced the request), kept
            # for the exemplar and the access line; the app's own traceparent, if it set one, stays.
            ids = environ[trace_context.ENVIRON_KEY] = trace_context.current(environ)
            if not any(h[0].lower() == trace_context.HEADER for h in headers):
                headers.append((trace_context.HEADER, trace_context.header(ids)))
            if metrics is not None:
                metrics.record(environ, status)
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        except BaseException:
            # Propagated out of Flask (PROPAGATE_EXCEPTIONS): the server answers 500.
            if metrics is not None:
                metrics.record(environ, "500 INTERNAL SERVER ERROR")
            raise


def note_route(response):
    """after_request: keep the matched url rule in the environ, for metrics and the access log."""
    from flask import request
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else None
    return response
