"""The code base passes ruff (the settings live in pyproject.toml), so CI enforces `make lint`."""

import subprocess
import sys

from support.docker import ROOT


def test_ruff_finds_nothing():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
