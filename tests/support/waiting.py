"""Wait on a condition, not a sleep: one helper for every test that polls."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Call `check` until it returns something truthy (returned), or fail after `timeout`
    seconds saying what was awaited and what the last check returned."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {str(last)[:2000]}")
        time.sleep(interval)
