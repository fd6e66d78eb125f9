"""Errors: counted always, JSON bodies on request (json_errors=True).

Counting: Flask sends `got_request_exception` for every exception the app did not handle
itself, before it turns it into a 500 (and logs it, with its stack trace, through app.logger,
which our JSON lines carry). That is the exporter's meaning of
flask_http_request_exceptions_total, and it holds whatever error pages the app has.

JSON bodies: one handler for HTTPException, which Flask also uses for the 500 it makes of an
unhandled exception. The app's own handlers for a status code (say, an HTML 404 page) still
win: Flask prefers a handler registered for the code over one for a class.
"""

from flask import Flask, got_request_exception, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from . import request_ids
from .wsgi_limits import UNREADABLE_BODY


def error_response(status: int, message: str, **details):
    """A JSON error body: {"error", "status", "request_id"} and any details."""
    body = {"error": message, "status": status, "request_id": request_ids.current()}
    body.update(details)
    return jsonify(body), status


def _json_http_error(exc: HTTPException):
    if isinstance(exc, InternalServerError):  # never the exception's own text to the client
        return error_response(500, InternalServerError.description)
    response = error_response(exc.code or 500, exc.description or exc.name, **getattr(exc, "details", {}))
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        response[0].headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


def _unreadable_body_errors() -> tuple[type[Exception], ...]:
    """What the server raises while the app reads a body it cannot parse (Gunicorn: a bad chunk,
    a body cut short). The client's fault: without a handler Flask makes each a 500 and counts it
    as an exception, which feeds the 5xx alerts."""
    try:
        from gunicorn.http.errors import NoMoreData, ParseException
    except ImportError:  # another server
        return ()
    return (ParseException, NoMoreData)


def install(app: Flask, metrics, json_errors: bool) -> None:
    if metrics is not None:
        def count(sender, exception, **_):
            metrics.count_exception(request.method)
        # A strong reference: blinker would drop a weakly referenced closure at once.
        got_request_exception.connect(count, app, weak=False)
    if json_errors:
        app.register_error_handler(HTTPException, _json_http_error)
    for error in _unreadable_body_errors():
        # The app's own 400 page, or ours: whatever a BadRequest gets.
        app.register_error_handler(error, lambda exc: app.handle_http_exception(
            BadRequest(UNREADABLE_BODY)))


