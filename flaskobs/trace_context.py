"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the request's trace id and span id.

A valid incoming `traceparent` joins the caller's trace: its trace id is kept and this request
gets a span id of its own. Without one (or with an invalid one, which is ignored, never an
error) the request starts a trace. The ids go on every log line of the request, into its
exemplar, and back to the client as `traceparent`. When the user runs OpenTelemetry, its
current span's ids are used instead, so the logs join the traces it exports.
"""

import os
import re

try:  # optional: the user's own tracer
    from opentelemetry import trace as _otel
except ImportError:  # pragma: no cover - depends on what the user installs
    _otel = None

HEADER = "traceparent"
ENVIRON_KEY = "flaskobs.trace"  # (trace_id, span_id, flags) of the request
# version-traceid-parentid-flags, lower-case hex. Version ff is invalid; version 00 is exactly
# 55 characters; a later version may add fields after a dash. Bounded before matching.
_FORMAT = re.compile(r"\A(?!ff)([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\x00-\x1f\x7f]*)?\Z")
MAX_LENGTH = 512
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def parse(value: str | None) -> tuple[str, str] | None:
    """(trace id, flags) of a valid traceparent header, else None."""
    if not value or len(value) > MAX_LENGTH:
        return None
    match = _FORMAT.match(value)
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "00" and rest is not None:
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return trace_id, flags


def start(environ: dict) -> tuple[str, str, str]:
    """The request's (trace id, span id, flags), from its traceparent or new; kept in the environ."""
    parent = parse(environ.get("HTTP_TRACEPARENT"))
    if parent is None:
        fresh = os.urandom(24).hex()  # one call for both ids
        ids = (fresh[:32], fresh[32:], "01")  # sampled: its logs are recorded
    else:
        ids = (parent[0], os.urandom(8).hex(), f"{int(parent[1], 16) & 1:02x}")  # only the sampled bit is defined
    environ[ENVIRON_KEY] = ids
    return ids


def current(environ: dict) -> tuple[str, str, str] | None:
    """The request's ids: OpenTelemetry's current span when it has one, else ours."""
    if _otel is not None:
        context = _otel.get_current_span().get_span_context()
        if context.is_valid:
            return f"{context.trace_id:032x}", f"{context.span_id:016x}", f"{int(context.trace_flags) & 1:02x}"
    return environ.get(ENVIRON_KEY)


def header(ids: tuple[str, str, str]) -> str:
    trace_id, span_id, flags = ids
    return f"00-{trace_id}-{span_id}-{flags}"
