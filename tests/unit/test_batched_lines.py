"""Access lines are written in batches: every line arrives, whole and in order, within the
interval, when a batch fills, when the process exits, and from forked workers."""

import os
import select
import subprocess
import sys
import time

from flaskobs.batched_lines import BatchedLines


def read_available(fd: int, wait: float) -> bytes:
    chunks = []
    deadline = time.monotonic() + wait
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return b"".join(chunks)
        chunks.append(os.read(fd, 65536))


def test_lines_wait_for_the_interval_then_arrive_together_in_order():
    read, write = os.pipe()
    lines = BatchedLines(write, interval=0.2)
    for i in range(5):
        lines.write(f"line {i}\n".encode())
    assert read_available(read, 0.05) == b""  # still in the batch
    assert read_available(read, 1.0) == b"".join(f"line {i}\n".encode() for i in range(5))


def test_full_batches_are_written_at_once_without_splitting_a_line():
    read, write = os.pipe()
    lines = BatchedLines(write, interval=60)  # only a full batch or flush() writes here
    sent = [f"{i:04d} {'x' * 300}\n".encode() for i in range(40)]  # ~12 KiB
    for line in sent:
        lines.write(line)
    early = read_available(read, 0.2)
    assert early and early.endswith(b"\n") and len(early) < sum(map(len, sent))
    lines.flush()
    assert early + read_available(read, 0.5) == b"".join(sent)


def test_writes_are_at_most_pipe_buf_so_workers_never_interleave():
    read, write = os.pipe()
    writes = []
    lines = BatchedLines(write, interval=60)
    real = os.write
    os.write = lambda fd, data: writes.append(len(data)) or real(fd, data)
    try:
        for i in range(100):
            lines.write(f"{i} {'y' * 200}\n".encode())
        lines.flush()
    finally:
        os.write = real
    read_available(read, 0.2)
    assert len(writes) > 1 and max(writes) <= select.PIPE_BUF


def test_the_batch_is_written_when_the_process_exits():
    code = ("import sys; from flaskobs.batched_lines import BatchedLines; "
            "b = BatchedLines(1, interval=60); b.write(b'last words\\n'); sys.exit(0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.stdout == b"last words\n"


def test_a_forked_worker_writes_its_own_lines_and_not_its_parents():
    read, write = os.pipe()
    lines = BatchedLines(write, interval=0.1)
    lines.write(b"parent before fork\n")
    pid = os.fork()
    if pid == 0:
        lines.write(b"child\n")
        lines.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    lines.flush()
    got = read_available(read, 0.5).splitlines()
    assert sorted(got) == [b"child", b"parent before fork"]
