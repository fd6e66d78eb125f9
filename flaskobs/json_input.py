"""Request JSON that cannot crash the app: bounded nesting, and text that can be stored and sent back.

Python's parser recurses, so `[` x 20000 raises RecursionError (a 500), and `"\\ud800"` parses into
a str holding a lone surrogate, which every encoder refuses later (UTF-8 for SQLite, the log line,
the response). Both are the client's mistakes. Guarding `app.json.loads` (Flask's public provider
API) turns them into ValueError, which `request.get_json` already answers with a 400, for any app
and whatever provider it has.
"""

import re

from flask import Flask

_SURROGATE = re.compile("[\ud800-\udfff]")  # left after parsing only when unpaired


class UnsafeJSON(ValueError):
    """Parsed JSON the app could not safely use."""


def _too_deep(max_depth: int) -> UnsafeJSON:
    return UnsafeJSON(f"the JSON nests deeper than {max_depth} levels")


def check(value, max_depth: int) -> None:
    """Raise UnsafeJSON if `value` nests containers deeper than `max_depth` or holds a lone surrogate."""
    pending = [(value, 1)]
    while pending:  # iterative: the check itself must not recurse
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise UnsafeJSON("a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise _too_deep(max_depth)
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                item = item.values()
            pending.extend((child, depth + 1) for child in item)


def install(app: Flask, max_depth: int) -> None:
    parse = app.json.loads

    def loads(s, **kwargs):
        try:
            value = parse(s, **kwargs)
        except RecursionError:
            raise _too_deep(max_depth) from None
        check(value, max_depth)
        return value

    app.json.loads = loads


def problem(exc: BaseException) -> str | None:
    """The UnsafeJSON reason behind a BadRequest from request.get_json, if that was the cause
    (Flask hides it outside debug mode; an app may want to tell the client)."""
    while exc is not None:
        if isinstance(exc, UnsafeJSON):
            return str(exc)
        exc = exc.__cause__ or exc.__context__
    return None
