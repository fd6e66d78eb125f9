"""The code base passes its linters, so CI enforces `make lint`: ruff and bandit for the Python,
hadolint for every Dockerfile, yamllint for the YAML. Their settings, and every exception with
its reason, live in pyproject.toml, .yamllint.yaml and comments at the lines they excuse."""

import subprocess
import sys
from pathlib import Path

import pytest
from support.docker import ROOT

BIN = Path(sys.executable).parent
PYTHON_SOURCES = ["flaskobs", "app", "examples", "scripts", "bench", "grafana"]


def tracked(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def test_ruff_finds_nothing():
    out = run(sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT))
    assert out.returncode == 0, out.stdout + out.stderr


def test_bandit_finds_nothing():
    out = run(str(BIN / "bandit"), "-q", "-c", "pyproject.toml", "-r", *PYTHON_SOURCES,
              "-f", "custom", "--msg-template", "{relpath}:{line} {test_id} {msg}")
    assert out.returncode == 0, out.stdout


@pytest.mark.parametrize("dockerfile", tracked("*Dockerfile*"))
def test_hadolint_finds_nothing(dockerfile):
    out = run(str(BIN / "hadolint"), "--no-color", dockerfile)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout


def test_yamllint_finds_nothing():
    files = tracked("*.yml", "*.yaml")
    assert "compose/compose.yaml" in files and "prometheus/rules/alerts.rules.yml" in files
    out = run(str(BIN / "yamllint"), "-s", "-f", "parsable", *files)
    assert out.returncode == 0, out.stdout


@pytest.mark.parametrize(("tool", "bad", "name"), [
    ("hadolint", "FROM debian\nRUN apt-get install -y curl\n", "Dockerfile"),
    ("yamllint", "a: 1\na: 2\n", "bad.yaml"),
    ("bandit", "import pickle\npickle.loads(open('x', 'rb').read())\n", "bad.py"),
])
def test_each_linter_can_fail(tmp_path, tool, bad, name):
    """Negative control: each tool, as run above, fails on a file with a known problem."""
    (tmp_path / name).write_text(bad)
    if tool == "bandit":
        out = run(str(BIN / "bandit"), "-q", "-c", "pyproject.toml", str(tmp_path / name))
    elif tool == "yamllint":
        out = run(str(BIN / "yamllint"), "-s", str(tmp_path / name))
    else:
        out = run(str(BIN / "hadolint"), "--no-color", str(tmp_path / name))
    assert out.returncode != 0, out.stdout
