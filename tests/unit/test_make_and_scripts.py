"""The first five minutes: make init keeps its secrets, bad profiles and missing images are
named before anything starts."""

import shutil
import subprocess
import sys

import pytest
from support.docker import ROOT


def test_init_twice_keeps_the_secrets(tmp_path):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    run = [sys.executable, str(ROOT / "scripts/init_env.py"), str(tmp_path)]
    subprocess.run(run, check=True, capture_output=True)
    first = (tmp_path / ".env").read_text()
    assert "SECRET_KEY=\n" not in first and "ELASTIC_PASSWORD=\n" not in first
    out = subprocess.run(run, check=True, capture_output=True, text=True).stdout
    assert (tmp_path / ".env").read_text() == first
    assert "new secrets: none" in out and "kept" in out
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0  # secrets are not world-readable
    assert f"FLASKOBS_DIR={tmp_path}\n" in first  # plain `docker compose` finds the image recipe
    key = tmp_path / ".certs" / "tls.key"
    if shutil.which("openssl"):
        assert key.stat().st_mode & 0o777 == 0o600  # was 0644: the private key readable by anyone


def test_init_keeps_flaskobs_dir_pointing_at_this_checkout(tmp_path):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    (tmp_path / ".env").write_text("SECRET_KEY=kept-as-it-is-kept-as-it-is-kept-as-it\nFLASKOBS_DIR=/old/place\n")
    subprocess.run([sys.executable, str(ROOT / "scripts/init_env.py"), str(tmp_path)], check=True, capture_output=True)
    text = (tmp_path / ".env").read_text()
    assert f"FLASKOBS_DIR={tmp_path}\n" in text and "/old/place" not in text
    assert "SECRET_KEY=kept-as-it-is-kept-as-it-is-kept-as-it\n" in text


def test_init_fills_a_secret_that_was_emptied(tmp_path):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    run = [sys.executable, str(ROOT / "scripts/init_env.py"), str(tmp_path)]
    subprocess.run(run, check=True, capture_output=True)
    lines = (tmp_path / ".env").read_text().splitlines()
    kept = next(line for line in lines if line.startswith("SECRET_KEY="))
    lines = ["GRAFANA_ADMIN_PASSWORD=" if line.startswith("GRAFANA_ADMIN_PASSWORD=") else line for line in lines]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    out = subprocess.run(run, check=True, capture_output=True, text=True).stdout
    assert "new secrets: GRAFANA_ADMIN_PASSWORD" in out
    text = (tmp_path / ".env").read_text()
    assert kept in text and "GRAFANA_ADMIN_PASSWORD=\n" not in text


def test_make_up_with_a_bad_profile_fails_at_once_and_writes_nothing(tmp_path):
    for name in ("Makefile", ".env.example"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    out = subprocess.run(["make", "-C", str(tmp_path), "up", "PROFILE=nonsense"], capture_output=True, text=True)
    assert out.returncode != 0
    assert "PROFILE='nonsense' is not allowed; allowed: app, proxy, metrics, logs, full" in out.stderr
    assert not (tmp_path / ".env").exists()


def test_make_help_lists_every_public_target():
    out = subprocess.run(["make", "-C", str(ROOT)], capture_output=True, text=True, check=True).stdout
    for target in ("init", "up", "down", "ps", "logs", "test", "test-unit", "test-integration", "lint", "bench",
                   "clean", "images-airgap"):
        assert f" {target} " in out.replace("\x1b[0m", " ").replace("\x1b[36m", " "), target


@pytest.mark.parametrize("target", ["down", "ps", "logs", "clean"])
def test_commands_over_the_whole_stack_name_every_profile_and_the_proxy_file(target):
    """COMPOSE_ALL once expanded before the profile flags existed: `make ps` saw no service."""
    out = subprocess.run(["make", "-n", "-C", str(ROOT), target, "PROXY=caddy"], capture_output=True, text=True,
                         check=True).stdout
    line = next(line for line in out.splitlines() if "docker compose" in line)
    assert all(f"--profile {p}" in line for p in ("app", "proxy", "metrics", "logs", "full")), line
    assert "-f compose/compose.yaml -f compose/proxy-caddy.yaml" in line
