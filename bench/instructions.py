"""Instructions one request costs inside the worker, counted by valgrind's callgrind: the same
call as bench.app_cost (the WSGI call, plus Gunicorn's access line where it is on), as a figure
that does not move with the machine's load. Two runs of N1 and N2 calls; their difference over
N2 - N1 drops the start-up. Hash seeds are fixed; what still varies (timestamps, random ids)
moves the count by a fraction of a percent, which the report shows.

  python -m bench.instructions MODE PATH N   (under valgrind; bench.run calls it)
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.stdout_pipe import stdout_to_pipe

CALLS = (50, 250)


def main() -> None:
    mode, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from bench.app_cost import prepare
    work = Path(tempfile.mkdtemp(prefix="flaskobs-instructions-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(work / "metrics")
    (work / "metrics").mkdir()
    with stdout_to_pipe():
        one, finish = prepare(mode, path, work)
        for _ in range(n):
            one()
        finish()


def count(mode: str, path: str, calls: int, env: dict) -> int:
    """Instructions of a whole run (callgrind's `Collected`)."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, "-m", "bench.instructions", mode, path, str(calls)],
                         capture_output=True, text=True, env={**env, "PYTHONHASHSEED": "0"}, timeout=1800)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not found:
        raise RuntimeError(f"callgrind failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return int(found.group(1))


def per_request(mode: str, path: str, env: dict) -> int:
    low, high = (count(mode, path, n, env) for n in CALLS)
    return round((high - low) / (CALLS[1] - CALLS[0]))


if __name__ == "__main__":
    main()
