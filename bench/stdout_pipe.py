"""stdout as it is in the container: a pipe that another process drains, written through
(the image sets PYTHONUNBUFFERED=1). Benchmarks of log writes run inside it."""

import io
import os
import subprocess
import sys
from contextlib import contextmanager


@contextmanager
def stdout_to_pipe():
    """Point file descriptor 1 and sys.stdout at a pipe drained by `cat` until the block ends;
    handlers created inside write there, as do direct writes to fd 1 (Gunicorn's access line)."""
    drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    saved_fd, saved_stdout = os.dup(1), sys.stdout
    os.dup2(drain.stdin.fileno(), 1)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    try:
        yield
    finally:
        sys.stdout = saved_stdout
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
        drain.stdin.close()
        drain.wait(10)
