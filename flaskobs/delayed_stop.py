"""GUNICORN_SHUTDOWN_DELAY under uWSGI: after SIGTERM the server keeps serving new requests for
that long (a balancer that finds replicas by DNS, as Nginx does on Swarm, needs that time to stop
sending here), then stops gracefully, as gunicorn_conf.py makes Gunicorn's master do.

uWSGI's master is C and starts its graceful stop at SIGTERM, so with a delay flaskobs-serve stays
uWSGI's parent instead of becoming it: it holds SIGTERM back for the delay (a second SIGTERM
passes at once), passes every other stop or reload signal at once, and exits as uWSGI did.
Without a delay flaskobs-serve execs uWSGI (serve.py), whose pid is then the one systemd watches.
"""

import logging
import signal
import subprocess  # nosec B404  # runs the server we were told to run, fixed arguments
import sys
import time

from .logs import JsonFormatter
from .settings import env_int, identity

PASSED_ON = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
POLL = 0.2  # seconds between looks at the clock and the child; a stop is at most this late


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


def run(executable: str, command: list[str], env: dict, delay: int, keep_fds: tuple[int, ...] = ()) -> int:
    """Run the server as a child and hold back SIGTERM for `delay` seconds; its exit status."""
    child = subprocess.Popen(command, executable=executable, env=env, pass_fds=keep_fds)  # nosec B603  # fixed arguments, no shell
    log = _logger(env)
    stop_at: float | None = None  # when to pass SIGTERM on; None until the first one
    passed = False

    def on_term(_signum, _frame) -> None:
        nonlocal stop_at
        if stop_at is None:
            stop_at = time.monotonic() + delay
            log.info("SIGTERM: still serving for %d s (GUNICORN_SHUTDOWN_DELAY), then stopping", delay)
        else:  # a second SIGTERM: stop now
            stop_at = 0.0
            if passed:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    for signum in PASSED_ON:
        signal.signal(signum, lambda signum, _frame: child.send_signal(signum))
    while True:
        if stop_at is not None and not passed and time.monotonic() >= stop_at:
            child.send_signal(signal.SIGTERM)
            passed = True
        try:
            return exit_status(child.wait(timeout=POLL))
        except subprocess.TimeoutExpired:
            continue
