"""flaskobs-serve as uWSGI's parent: it stops uWSGI through the master's FIFO, and holds a stop
back for GUNICORN_SHUTDOWN_DELAY, as gunicorn_conf.py makes Gunicorn's master do.

uWSGI's master is C. Its SIGTERM hook (uwsgi_conf.py) stops the workers from inside a signal
handler: a SIGTERM that came while the master slept before respawning a worker stopped the others,
then the master forked the new worker, never told it, and waited for it (1 stop in 4 after a burst
of recycles hung until SIGKILL). Writing "q" to the master's FIFO asks for the same graceful stop,
which the master runs from its loop, between respawns. Until the master has opened its FIFO (right
after a start) the stop waits for it, at most FIFO_WAIT seconds, then goes as a SIGTERM. A worker
forked just before the stop keeps it too (uwsgi_fork_guard.py, uwsgi_boot_signals.py).

With a delay the server keeps serving new requests that long after SIGTERM (a balancer that finds
replicas by DNS, as Nginx does on Swarm, needs the time to stop sending here); a second SIGTERM
stops it at once. Other stop or reload signals pass at once. flaskobs-serve exits as uWSGI did.
"""

import errno
import logging
import os
import select
import signal
import subprocess  # nosec B404  # runs the server we were told to run, fixed arguments
import sys
import time

from .logs import JsonFormatter
from .notify_relay import NotifyRelay
from .settings import env_int, identity

PASSED_ON = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
POLL = 0.2  # seconds between looks at the clock and the child; a stop is at most this late
FIFO_WAIT = 5.0  # seconds a stop waits for the master's FIFO before it goes as a signal


def shutdown_delay(env) -> int:
    """GUNICORN_SHUTDOWN_DELAY, seconds (both servers read it, as they read GUNICORN_BIND)."""
    return env_int(env, "GUNICORN_SHUTDOWN_DELAY", 0, low=0, high=60)


def _logger(env) -> logging.Logger:
    """A JSON line on stdout, as every other line of the app's container."""
    log = logging.getLogger("flaskobs.serve")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter(identity(env)))
        log.addHandler(handler)
        log.propagate = False
        log.setLevel(logging.INFO)
    return log


def exit_status(returncode: int) -> int:
    """A shell's status for the child's: 128 + the signal that killed it."""
    return 128 - returncode if returncode < 0 else returncode


def ask_master(fifo: str) -> bool:
    """Ask uWSGI's master for a graceful stop through its FIFO; False while it has none open."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENXIO):  # not made yet; made, not yet read
            return False
        raise
    try:
        os.write(fd, b"q")
    finally:
        os.close(fd)
    return True


def run(executable: str, command: list[str], env: dict, delay: int, fifo: str,
        keep_fds: tuple[int, ...] = ()) -> int:
    """Run uWSGI as a child, stop it through `fifo`, `delay` seconds after SIGTERM; its exit status."""
    relay = NotifyRelay(env)  # before the child starts: it gives it its own NOTIFY_SOCKET
    child = subprocess.Popen(command, executable=executable, env=env, pass_fds=keep_fds)  # nosec B603  # fixed arguments, no shell
    log = _logger(env)
    stop_at: float | None = None  # when to stop the child; None until the first SIGTERM
    asked = False

    def on_term(_signum, _frame) -> None:
        nonlocal stop_at
        if stop_at is None:
            stop_at = time.monotonic() + delay
            if delay:
                log.info("SIGTERM: still serving for %d s (GUNICORN_SHUTDOWN_DELAY), then stopping", delay)
        else:  # a second SIGTERM: stop now
            stop_at = min(stop_at, time.monotonic())

    signal.signal(signal.SIGTERM, on_term)
    for signum in PASSED_ON:
        signal.signal(signum, lambda signum, _frame: child.send_signal(signum))
    while True:
        now = time.monotonic()
        if stop_at is not None and not asked and now >= stop_at:
            asked = ask_master(fifo)
            if not asked and now >= stop_at + FIFO_WAIT:
                child.send_signal(signal.SIGTERM)
                asked = True
        pause = 0.02 if stop_at is not None and not asked else POLL  # waiting for the FIFO: look often
        if relay.sock is not None:  # under systemd: wait on uWSGI's notifications instead
            select.select([relay], [], [], pause)
            relay.pump()
            pause = 0
        try:
            return exit_status(child.wait(timeout=pause))
        except subprocess.TimeoutExpired:
            continue
