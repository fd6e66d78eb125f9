"""W3C traceparent: a valid one is joined, anything else is ignored (never an error), and the
request's trace id and span id are on its log lines and in its traceparent response header."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flaskobs import trace_context

TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"
HEADER = re.compile(r"\A00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]\Z")


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(("value", "expected"), [
    (VALID, (TRACE, "01")),
    (f"00-{TRACE}-{PARENT}-00", (TRACE, "00")),
    (f"01-{TRACE}-{PARENT}-09-some-future-field", (TRACE, "09")),  # a later version may add fields
    (f"cc-{TRACE}-{PARENT}-01", (TRACE, "01")),
])
def test_valid_headers_are_read(value, expected):
    assert trace_context.parse(value) == expected


@pytest.mark.parametrize("value", [
    "", "garbage", VALID.upper(), f"ff-{TRACE}-{PARENT}-01",  # upper case; version ff is invalid
    f"00-{'0' * 32}-{PARENT}-01", f"00-{TRACE}-{'0' * 16}-01",  # all-zero ids
    f"00-{TRACE}-{PARENT}-01-extra",  # version 00 is exactly 55 characters
    f"00-{TRACE[:-1]}-{PARENT}-01", f"00-{TRACE}-{PARENT}-1", f"0-{TRACE}-{PARENT}-01",
    f"00-{TRACE}-{PARENT}-01\n", f"01-{TRACE}-{PARENT}-01-\x00", f"01-{TRACE}-{PARENT}-01-" + "x" * 600,
    f"00_{TRACE}_{PARENT}_01", f"00-{TRACE}-{PARENT}-0g",
])
def test_invalid_headers_are_ignored(value):
    assert trace_context.parse(value) is None


@given(st.text(max_size=700))
def test_no_header_raises_or_yields_an_unchecked_id(value):
    parsed = trace_context.parse(value)
    if parsed is not None:
        trace_id, flags = parsed
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and trace_id != "0" * 32
        assert re.fullmatch(r"[0-9a-f]{2}", flags)


def test_a_valid_traceparent_is_joined_on_the_response_and_every_log_line(capsys, tiny):
    response = tiny.test_client().post("/items", headers={"traceparent": VALID, "X-Request-ID": "joined-1"})
    trace_id, span_id = HEADER.match(response.headers["traceparent"]).groups()
    assert trace_id == TRACE and span_id != PARENT  # the caller's trace, a span of our own
    created = next(line for line in lines(capsys) if line.get("message") == "item created")
    assert (created["trace_id"], created["span_id"], created["request_id"]) == (TRACE, span_id, "joined-1")


@pytest.mark.parametrize("bad", [None, f"00-{'0' * 32}-{PARENT}-01", "x" * 5000, f"00-{TRACE}-{PARENT}-01\x07",
                                 VALID.upper()])
def test_without_a_valid_traceparent_the_request_starts_a_trace(capsys, tiny, bad):
    headers = {} if bad is None else {"traceparent": bad}
    response = tiny.test_client().post("/items", headers=headers)
    assert response.status_code == 201  # an invalid header is never an error
    match = HEADER.match(response.headers["traceparent"])
    assert match and match.group(1) not in (TRACE, "0" * 32)
    created = next(line for line in lines(capsys) if line.get("message") == "item created")
    assert (created["trace_id"], created["span_id"]) == match.groups()
    if bad is not None:
        assert bad not in json.dumps(created) and bad.lower() not in json.dumps(created)


def test_each_request_gets_its_own_span(tiny):
    client = tiny.test_client()
    spans = {client.get("/hello", headers={"traceparent": VALID}).headers["traceparent"] for _ in range(5)}
    assert len(spans) == 5 and all(s.startswith(f"00-{TRACE}-") for s in spans)


def test_a_traceparent_the_app_set_itself_stays(tiny):
    own = f"00-{'a' * 32}-{'b' * 16}-01"

    @tiny.get("/own-trace")
    def own_trace():
        return {"ok": True}, 200, {"traceparent": own}

    assert tiny.test_client().get("/own-trace", headers={"traceparent": VALID}).headers.getlist("traceparent") == [own]
