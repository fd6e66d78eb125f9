"""services/swarm/env-from-files.sh, the Swarm entry point of the images that read passwords from
the environment only: run with sh, as those images run it."""

import os
import subprocess

from support.docker import ROOT

SCRIPT = ROOT / "services/swarm/env-from-files.sh"


def run(tmp_path, env: dict, *command: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "SECRETS_DIR": str(tmp_path / "secrets")}
    return subprocess.run(["sh", str(SCRIPT), *command], env={**base, **env}, capture_output=True, text=True,
                          timeout=10)


def secret(tmp_path, name: str, text: str) -> str:
    (tmp_path / "secrets").mkdir(exist_ok=True)
    path = tmp_path / "secrets" / name
    path.write_text(text)
    return str(path)


def test_each_secret_file_becomes_its_variable_for_the_command(tmp_path):
    text = "p@ss word $HOME `id` 'quoted'"  # taken as text, never evaluated
    path = secret(tmp_path, "LOGSTASH_INTERNAL_PASSWORD", text + "\n")
    out = run(tmp_path, {"LOGSTASH_INTERNAL_PASSWORD_FILE": path, "LOG_FILE": "/var/log/app.log"},  # LOG: not a secret
              "sh", "-c", 'printf "%s|%s" "$LOGSTASH_INTERNAL_PASSWORD" "${LOG:-unset}"')
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{text}|unset"


def test_a_variable_set_directly_wins(tmp_path):
    path = secret(tmp_path, "KIBANA_PASSWORD", "file")
    out = run(tmp_path, {"KIBANA_PASSWORD": "direct", "KIBANA_PASSWORD_FILE": path},
              "sh", "-c", 'printf %s "$KIBANA_PASSWORD"')
    assert out.stdout == "direct"


def test_grafanas_own_double_underscore_files_are_left_to_grafana(tmp_path):
    out = run(tmp_path, {"GF_SECURITY_ADMIN_PASSWORD__FILE": secret(tmp_path, "GF_SECURITY_ADMIN_PASSWORD", "x")},
              "env")
    assert out.returncode == 0
    assert "GF_SECURITY_ADMIN_PASSWORD_=" not in out.stdout


def test_an_unreadable_secret_stops_start_up_naming_the_variable(tmp_path):
    (tmp_path / "secrets").mkdir()
    out = run(tmp_path, {"ELASTIC_PASSWORD_FILE": str(tmp_path / "secrets" / "missing")}, "true")
    assert out.returncode == 2
    assert "ELASTIC_PASSWORD_FILE=" in out.stderr and "cannot be read" in out.stderr


def test_without_a_command_it_says_how_to_use_it(tmp_path):
    out = run(tmp_path, {})
    assert out.returncode == 2 and "usage:" in out.stderr
