"""deploy/systemd/flaskobs-app.service, checked by systemd's own tools (this host's systemd-analyze):
`verify` finds nothing to say, and `security` rates its exposure 2.0 or lower ("OK"). Each check
has a negative control that shows it can fail."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.docker import ROOT

UNIT = ROOT / "deploy/systemd/flaskobs-app.service"
NAME = UNIT.name
EXPOSURE_LIMIT = 2.0

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed (Debian: systemd)")


def root_with(tmp_path: Path, text: str) -> Path:
    """A file-system root holding the unit, the programs it runs (empty scripts) and the host's targets,
    so that systemd-analyze judges the unit as it is, not the host's missing /opt."""
    root = tmp_path / "root"
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    for target in Path("/usr/lib/systemd/system").glob("*.target"):
        if target.exists():
            shutil.copy(target, units / target.name)
    for line in text.splitlines():
        if line.startswith(("ExecStart=", "ExecReload=")):
            program = root / line.split("=", 1)[1].split()[0].lstrip("/")
            program.parent.mkdir(parents=True, exist_ok=True)
            program.write_text("#!/bin/sh\n")
            program.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system" / NAME).write_text(text)
    return root


def verify(tmp_path: Path, text: str) -> list[str]:
    """What `systemd-analyze verify` says about the unit (its exit status as a line, when not 0)."""
    root = root_with(tmp_path, text)
    proc = subprocess.run(["systemd-analyze", "verify", f"--root={root}", str(root / "etc/systemd/system" / NAME)],
                          capture_output=True, text=True, timeout=60)
    said = [line for line in proc.stderr.splitlines() if NAME in line]
    return said + ([f"exit status {proc.returncode}"] if proc.returncode else [])


def exposure(tmp_path: Path, text: str) -> float:
    root = root_with(tmp_path, text)
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={root}", NAME],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", proc.stdout)
    assert found, proc.stdout[-2000:] + proc.stderr[-2000:]
    return float(found.group(1))


def test_the_unit_verifies_clean(tmp_path):
    assert verify(tmp_path, UNIT.read_text()) == []


def test_verify_catches_a_bad_setting(tmp_path):  # negative control
    broken = UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivileges=perhaps")
    assert any("perhaps" in line for line in verify(tmp_path, broken))


def test_the_units_exposure_is_ok(tmp_path):
    score = exposure(tmp_path, UNIT.read_text())
    assert score <= EXPOSURE_LIMIT, f"exposure {score}; the README promises <= {EXPOSURE_LIMIT}"
    readme = (ROOT / "README.md").read_text()
    assert f"exposure level {score:.1f}" in readme, "the README states another score"


def test_without_its_sandboxing_the_unit_is_exposed(tmp_path):  # negative control
    bare = UNIT.read_text().split("# Sandboxing", 1)[0] + "\n[Install]\nWantedBy=multi-user.target\n"
    assert exposure(tmp_path, bare) > EXPOSURE_LIMIT
