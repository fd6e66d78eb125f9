"""Liveness (/healthz: the process answers) and readiness (/readyz: it can do its job).

Readiness is what the app says it needs: `flaskobs.add_readiness_check(app, "database",
flaskobs.database_check(engine))`. A check is ready unless it raises (NotReady("why") shows
why), returns False or hangs. flaskobs adds its own (the log queue's bound) when it ships
logs. Each check runs in its own thread and /readyz waits at most READINESS_TIMEOUT for all of
them: a check that raises, returns False or hangs makes /readyz a 503 naming it, never a 500,
never a hung probe. A check still running from an earlier probe is not started again, so a
stuck dependency costs one thread, not one per probe.
"""

import threading
import time
from collections.abc import Callable

from flask import Blueprint, current_app

bp = Blueprint("flaskobs_health", __name__)
Check = Callable[[], object]


class NotReady(Exception):
    """Raised by a readiness check to say why it is not ready; /readyz shows the message."""


class _Run:
    """One execution of a check, in a daemon thread (a hung check never blocks the worker's exit)."""

    def __init__(self, check: Check):
        self.done = threading.Event()
        self.result = "ok"
        self.started = time.monotonic()
        threading.Thread(target=self._run, args=(check,), name="flaskobs-readiness", daemon=True).start()

    def _run(self, check: Check) -> None:
        try:
            if check() is False:
                self.result = "failed"
        except NotReady as exc:
            self.result = f"not ready: {exc}"
        except Exception as exc:  # any error means "not ready"; the type only (messages may hold URLs)
            self.result = f"error: {type(exc).__name__}"
        finally:
            self.done.set()


class Readiness:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self._checks: dict[str, Check] = {}
        self._running: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def add(self, name: str, check: Check) -> None:
        if not callable(check):
            raise TypeError(f"readiness check {name!r} must be callable, got {type(check).__name__}")
        if name in self._checks:
            raise ValueError(f"a readiness check named {name!r} is already registered")
        self._checks[name] = check

    def names(self) -> list[str]:
        return list(self._checks)

    def run(self) -> dict[str, str]:
        """Run every check at once; return name -> "ok" or what went wrong."""
        with self._lock:
            runs = {}
            for name, check in self._checks.items():
                run = self._running.get(name)
                if run is None or run.done.is_set():
                    run = self._running[name] = _Run(check)
                runs[name] = run
        deadline = time.monotonic() + self.timeout
        results = {}
        for name, run in runs.items():
            if run.done.wait(max(0.0, deadline - time.monotonic())):
                results[name] = run.result
            else:
                results[name] = f"timeout: no answer after {time.monotonic() - run.started:.1f} s"
        return results


def database_check(engine) -> Check:
    """A readiness check that runs SELECT 1 on a SQLAlchemy engine (Flask-SQLAlchemy: db.engine)."""
    from sqlalchemy import text

    def database():
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    return database


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    from .extension import state
    checks = state(current_app).readiness.run()
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
