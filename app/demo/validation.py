"""Small, explicit validation of JSON bodies and query parameters (422/400 with details)."""

from flask import request
from werkzeug.exceptions import BadRequest, UnprocessableEntity, UnsupportedMediaType

from flaskobs import json_input


class ValidationFailed(UnprocessableEntity):
    def __init__(self, errors: dict[str, str]):
        super().__init__("request body failed validation")
        self.details = {"fields": errors}


class BadQuery(BadRequest):
    def __init__(self, name: str, message: str):
        super().__init__(f"query parameter {name!r} {message}")
        self.details = {"parameter": name}


def json_body() -> dict:
    """Return the request's JSON object or raise 415/400 with a clear reason."""
    if not request.is_json:
        raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    try:
        body = request.get_json(force=False, silent=False)
    except BadRequest as exc:  # a 413 for an oversized body passes through as it is
        raise BadRequest(f"the body is not usable JSON: {json_input.problem(exc) or 'a syntax error'}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def check_fields(body: dict, schema: dict) -> dict:
    """schema: name -> (required, check) where check(value) returns an error string or None."""
    errors = {}
    for name in body.keys() - schema.keys():
        errors[name] = "unknown field"
    for name, (required, check) in schema.items():
        if name not in body:
            if required:
                errors[name] = "required"
            continue
        problem = check(body[name])
        if problem:
            errors[name] = problem
    if errors:
        raise ValidationFailed(dict(sorted(errors.items())))
    return {k: body[k] for k in schema if k in body}


def text(max_len: int):
    def check(value):
        if not isinstance(value, str):
            return "must be a string"
        if not value.strip():
            return "must not be blank"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        return None
    return check


def number(low: float, high: float):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        if value != value or not low <= value <= high:  # NaN fails too
            return f"must be between {low:g} and {high:g}"
        return None
    return check


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(name, "must be a whole number") from None
    if not low <= value <= high:
        raise BadQuery(name, f"must be between {low} and {high}")
    return value
