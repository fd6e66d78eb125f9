"""`make up`'s preflight names what is missing before anything starts."""

import os
import subprocess
import sys

import pytest
from support.docker import ROOT, engine_error


def test_missing_image_is_named_with_the_profiles_that_can_still_run(tmp_path):
    if engine_error():
        pytest.skip(f"Docker unavailable: {engine_error()}")
    env_file = tmp_path / "images.env"
    pinned = (ROOT / "compose/images.env").read_text()
    env_file.write_text(pinned + "NGINX_IMAGE=flaskobs-test/no-such-image:1\nPULL_POLICY=never\n")
    secrets = tmp_path / "secrets.env"
    secrets.write_text("".join(f"{k}=x\n" for k in ("SECRET_KEY", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_SECRET_KEY",
                                                  "ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD",
                                                  "LOGSTASH_INTERNAL_PASSWORD", "GRAFANA_ES_PASSWORD",
                                                  "KIBANA_ENCRYPTION_KEY")))
    compose = ["docker", "compose", "--project-directory", str(ROOT / "compose"), "-f",
               str(ROOT / "compose/compose.yaml"), "--env-file", str(env_file), "--env-file", str(secrets)]
    out = subprocess.run([sys.executable, str(ROOT / "scripts/preflight.py"), "proxy", "--", *compose],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "flaskobs-test/no-such-image:1" in out.stderr
    assert "Profiles that can run from local images:" in out.stderr
    runnable = out.stderr.split("Profiles that can run from local images:")[1].splitlines()[0]
    assert "app" in runnable and "proxy" not in runnable


def test_make_preflight_names_the_profiles_that_can_still_run():
    """Through the Makefile, as `make up` runs it (a missing Nginx image; secrets from the environment)."""
    if engine_error():
        pytest.skip(f"Docker unavailable: {engine_error()}")
    env = {**os.environ, "NGINX_IMAGE": "flaskobs-test/no-such-image:1", "PULL_POLICY": "never"}
    for key in ("SECRET_KEY", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_SECRET_KEY", "ELASTIC_PASSWORD",
                "KIBANA_SYSTEM_PASSWORD", "LOGSTASH_INTERNAL_PASSWORD", "GRAFANA_ES_PASSWORD", "KIBANA_ENCRYPTION_KEY"):
        env.setdefault(key, "x" * 40)
    out = subprocess.run(["make", "-C", str(ROOT), "preflight", "PROFILE=proxy"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode != 0
    assert "flaskobs-test/no-such-image:1" in out.stderr
    runnable = out.stderr.split("Profiles that can run from local images:")[1].splitlines()[0]
    assert "app" in runnable.split(", ") or runnable.strip().startswith("app")
