"""Instructions one request costs inside the worker, counted by valgrind's callgrind: the same
call as bench.app_cost (the WSGI call, plus Gunicorn's access line where it is on), as a figure
that does not move with the machine's load. Two runs of N1 and N2 calls; their difference over
N2 - N1 drops the start-up. Hash seeds are fixed; what still varies (timestamps, random ids)
moves the count by a fraction of a percent, which the report shows. The memory layout moves it
more (id-based hashes probe differently): every run gets arguments of one width, so modes differ
only by what they do, and bench.run measures the layout's own effect by padding the environment.

  python -m bench.instructions MODE PATH N   (under valgrind; bench.run calls it)
"""

import gc
import re
import subprocess
import sys

from bench.stdout_pipe import stdout_to_pipe

CALLS = (50, 250)


def main() -> None:
    mode, path, n = sys.argv[1].strip(), sys.argv[2].strip(), int(sys.argv[3])
    from bench.app_cost import prepare, workdir
    work = workdir()
    with stdout_to_pipe():
        one, finish = prepare(mode, path, work)
        one()
        # What start-up made lives on: out of the collector's way, so a full collection that
        # falls in one run and not in the other (their timing depends on the heap) does not
        # move the count by more than the mode changes it.
        gc.collect()
        gc.freeze()
        for _ in range(n):
            one()
        finish()


def count(mode: str, path: str, calls: int, env: dict, pad: int = 0) -> int:
    """Instructions of a whole run (callgrind's `Collected`). Arguments of fixed width; pad bytes
    of environment shift the memory layout."""
    argv = [mode.ljust(16), path.ljust(40), str(calls).rjust(6)]
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, "-m", "bench.instructions", *argv], capture_output=True, text=True,
                         env={**env, "PYTHONHASHSEED": "0", "FLASKOBS_BENCH_PAD": "x" * pad}, timeout=1800)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not found:
        raise RuntimeError(f"callgrind failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return int(found.group(1))


def per_request(mode: str, path: str, env: dict, pad: int = 0) -> int:
    low, high = (count(mode, path, n, env, pad) for n in CALLS)
    return round((high - low) / (CALLS[1] - CALLS[0]))


if __name__ == "__main__":
    main()
