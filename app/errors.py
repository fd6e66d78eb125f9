"""Every error leaves as JSON: {"error", "status", "request_id"}."""

import logging

from flask import Flask, current_app, g, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, **details):
    body = {"error": message, "status": status, "request_id": g.get("request_id")}
    body.update(details)
    return jsonify(body), status


def _http_error(exc: HTTPException):
    response = error_response(exc.code or 500, exc.description or exc.name,
                              **getattr(exc, "details", {}))
    if exc.code == 405 and exc.valid_methods:
        response[0].headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    original = getattr(exc, "original_exception", None) or exc
    log.error("unhandled exception", exc_info=original)
    count = current_app.extensions.get("count_exception")
    if count is not None:
        count()
    return error_response(500, InternalServerError.description)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
