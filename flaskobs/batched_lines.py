"""Lines to a file descriptor (stdout) in batches: one write per ~4 KiB instead of one per line.

Each write to the container's stdout pipe wakes its reader (Docker's log shim). Measured in
the worker (bench/app_cost.py), that cost Gunicorn's access line about 30 us of a 110 us
hello-world request. Here a line waits at most `interval` seconds; a batch never exceeds
PIPE_BUF, so workers sharing the pipe never interleave inside a line. The batch is written
when the worker exits (atexit, and gunicorn_conf.py's worker_exit); a SIGKILLed worker
loses at most the last `interval` of lines.
"""

import atexit
import os
import select
import threading
import time


class BatchedLines:
    def __init__(self, fd: int = 1, limit: int = select.PIPE_BUF, interval: float = 0.1):
        self.fd, self.limit, self.interval = fd, limit, interval
        self._reset()
        if hasattr(os, "register_at_fork"):  # not on Windows, where nothing forks
            os.register_at_fork(after_in_child=self._reset)  # the parent keeps its own batch
        atexit.register(self.flush)

    def _reset(self) -> None:
        self._lines: list[bytes] = []
        self._size = 0
        self.rearm()

    def rearm(self) -> None:
        """Make the lock, the event and the flusher anew, from what `threading` is now. Gunicorn's
        gevent worker patches threading after the fork: a real lock made before it, held by a
        greenlet that yields, blocks the whole event loop (every request of the worker hung)."""
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self._flusher: threading.Thread | None = None
        if self._lines:
            self._pending.set()

    def write(self, line: bytes) -> None:
        """Queue one line (with its newline); write the batch when the next line would not fit."""
        with self._lock:
            if self._lines and self._size + len(line) > self.limit:
                self._write_locked()
            self._lines.append(line)
            self._size += len(line)
            if self._size >= self.limit:
                self._write_locked()
            elif not self._pending.is_set():
                self._pending.set()
        if self._flusher is None:
            self._start_flusher()

    def flush(self) -> None:
        if self._lock.acquire(timeout=1):  # at exit a dying thread may hold it; do not hang
            try:
                self._write_locked()
            finally:
                self._lock.release()

    def _write_locked(self) -> None:
        self._pending.clear()
        if not self._lines:
            return
        data = b"".join(self._lines)
        self._lines, self._size = [], 0
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_soon, name="batched-lines", daemon=True)
                self._flusher.start()

    def _flush_soon(self) -> None:
        while True:
            self._pending.wait()  # idle workers do not wake up
            time.sleep(self.interval)
            try:
                self.flush()
            except OSError:
                pass  # stdout is gone: nobody can read these lines any more
