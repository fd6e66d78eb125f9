"""A stop that reaches a uWSGI worker while it loads the app is kept, and sent again once the worker
listens for it.

uWSGI 2.0 installs a worker's own handlers (SIGHUP: graceful stop, SIGINT and SIGTERM: end) only
after the worker has loaded the app (--lazy-apps: after the fork, core/uwsgi.c uwsgi_worker_run).
Until then the worker runs the handlers it inherited from the master, which treat the signal as
the master's own business: the master's graceful stop sends each worker SIGHUP and then waits for
every one to exit, with no time limit, so a worker still loading served on and the stop hung until
the orchestrator's SIGKILL (7 stops in 8 sent right after a start, here).

So, first thing in the worker (uwsgi_app.py imports this before anything else): Python's handler
takes these signals, which writes each one's number to a pipe from the signal handler itself; a
thread waits until uWSGI has put its own handlers in place, then sends the worker what came
meanwhile, which uWSGI now handles as it should.
"""

import ctypes
import os
import signal
import threading
import time

WATCHED = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)  # uwsgi_fork_guard.py blocks these too

_SIGACTION_SIZE = 256  # larger than struct sigaction on every Linux libc; the handler comes first
_POLL = 0.005  # seconds; uWSGI installs its handlers microseconds after the app has loaded
_GIVE_UP = 600  # seconds: a worker that never gets uWSGI's handlers is not uWSGI's (a test import)


def _handler_address(libc, signum: int) -> int | None:
    """The C function that handles `signum` now (None: the default or ignored)."""
    action = ctypes.create_string_buffer(_SIGACTION_SIZE)
    if libc.sigaction(signum, None, action) != 0:
        raise OSError(ctypes.get_errno(), f"sigaction({signum})")
    return ctypes.c_void_p.from_buffer(action).value


def _pending(read_fd: int) -> set[int]:
    received = set()
    while True:
        try:
            chunk = os.read(read_fd, 64)
        except BlockingIOError:
            return received
        if not chunk:
            return received
        received.update(chunk)


def _resend_when_uwsgi_listens(libc, ours: dict[int, int | None], read_fd: int) -> None:
    deadline = time.monotonic() + _GIVE_UP
    while any(_handler_address(libc, s) == ours[s] for s in WATCHED):
        if time.monotonic() > deadline:
            return
        time.sleep(_POLL)
    received = _pending(read_fd)
    # The strongest one: an end (SIGINT, SIGTERM: uWSGI's brutal stop) over a graceful one.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signum in received:
            os.kill(os.getpid(), signum)
            return


def keep_stops_until_uwsgi_listens() -> None:
    """Call in the worker's main thread before the app loads; returns at once."""
    libc = ctypes.CDLL(None, use_errno=True)
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    # The C-level handler writes the signal's number here as the signal arrives, even while the
    # main thread runs C code; the pipe stays open for the worker's life (two descriptors).
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for signum in WATCHED:
        signal.signal(signum, lambda *_: None)
    # Blocked since the fork (uwsgi_fork_guard.py): one that came meanwhile arrives now, here.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
    ours = {signum: _handler_address(libc, signum) for signum in WATCHED}
    threading.Thread(target=_resend_when_uwsgi_listens, args=(libc, ours, read_fd),
                     name="flaskobs-boot-signals", daemon=True).start()
