"""No stop is lost between uWSGI's fork of a worker and the worker's first Python line.

Imported once, in uWSGI's master (`--shared-import`, with `--py-call-uwsgi-fork-hooks` so the
master runs Python's fork hooks around each worker's fork: uwsgi_conf.py). Until a worker has
loaded the app it runs the handlers it inherited from the master (uwsgi_boot_signals.py keeps
what comes once its first line has run). A stop that came before that ran the master's reload
handler inside the worker, which stopped the metrics server and then waited up to the reload mercy
for it, and the stop itself was lost: the master's graceful stop waited for that worker until the
mercy's SIGKILL (1 stop in 12 after a crash loop here, 12 s instead of 2). So the master blocks
these signals while it forks a worker, and the worker keeps them blocked until uwsgi_boot_signals
takes them: one sent meanwhile waits, pending, for it.
"""

import os
import signal

# The signals the worker unblocks once it keeps them. Not defined here: importing this module
# registers the fork hooks, which only uWSGI's master may do.
from .uwsgi_boot_signals import WATCHED

_MASTER = os.getpid()
_blocked_for_worker = False  # set in the master just before it forks a worker


def _before() -> None:
    global _blocked_for_worker
    _blocked_for_worker = os.getpid() == _MASTER
    if _blocked_for_worker:
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)


def _after_in_parent() -> None:
    if _blocked_for_worker:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)


# The new worker keeps them blocked until uwsgi_boot_signals takes them; a fork by the app in a
# worker blocks nothing (not the master).
os.register_at_fork(before=_before, after_in_parent=_after_in_parent)
