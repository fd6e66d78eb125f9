"""`make up`'s preflight names what is missing before anything starts."""

import os
import subprocess
import sys

import pytest
from support.docker import ROOT, engine_error, env_files, write_test_env


def env_args(env_file) -> list[str]:
    return [word for path in [*env_files(), str(env_file)] for word in ("--env-file", path)]


def test_missing_image_is_named_with_the_profiles_that_can_still_run(tmp_path):
    if engine_error():
        pytest.skip(f"Docker unavailable: {engine_error()}")
    env_file = tmp_path / "images.env"
    pinned = (ROOT / "compose/images.env").read_text()
    env_file.write_text(pinned + "NGINX_IMAGE=flaskobs-test/no-such-image:1\nPULL_POLICY=never\n")
    secrets = write_test_env(tmp_path)  # and FLASKOBS_DIR, as `make init` writes it
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


@pytest.mark.parametrize(("settings", "message"), [
    ({"APP_DIR": "/nonexistent/shop"}, "preflight: APP_DIR=/nonexistent/shop is not a folder"),
    ({"APP_DIR": "../examples"}, "has no requirements.txt"),
    ({"APP_STATIC_DIR": "../nonexistent/static"}, "APP_STATIC_DIR resolves to"),
])
def test_your_apps_folders_are_named_before_anything_builds(tmp_path, settings, message):
    run_preflight(tmp_path, "proxy", settings, message)


@pytest.mark.parametrize(("settings", "message"), [
    ({"ALERT_WEBHOOK_URL": "hooks.example.com/x"}, "preflight: ALERT_WEBHOOK_URL='hooks.example.com/x' is not a URL"),
    ({"ALERT_EMAIL_TO": "oncall@example.com"}, "preflight: email alerts need ALERT_EMAIL_FROM, ALERT_SMTP_SMARTHOST"),
    ({"SLO_LATENCY_THRESHOLD": "0.2"}, "preflight: SLO_LATENCY_THRESHOLD='0.2' is not a bucket bound"),
])
def test_a_bad_alert_receiver_or_slo_is_named_before_anything_starts(tmp_path, settings, message):
    run_preflight(tmp_path, "metrics", settings, message)


def run_preflight(tmp_path, profile, settings, message):
    if engine_error():
        pytest.skip(f"Docker unavailable: {engine_error()}")
    env_file = write_test_env(tmp_path, **settings)
    compose = ["docker", "compose", "--project-directory", str(ROOT / "compose"), "-f",
               str(ROOT / "compose/compose.yaml"), "--env-file", str(ROOT / "compose/images.env"),
               "--env-file", str(env_file)]
    out = subprocess.run([sys.executable, str(ROOT / "scripts/preflight.py"), profile, "--", *compose],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_a_folder_without_requirements_fails_the_image_build_naming_app_dir(tmp_path):
    """Plain `docker compose build` (no preflight): the recipe itself names APP_DIR."""
    if engine_error():
        pytest.skip(f"Docker unavailable: {engine_error()}")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop/shop.py").write_text("app = None\n")
    env_file = write_test_env(tmp_path, APP_DIR=str(tmp_path / "shop"), APP_IMAGE="flaskobs-test/no-reqs:local")
    compose = ["docker", "compose", "-p", f"flaskobs-test-noreqs-{os.getpid()}", "--project-directory",
               str(ROOT / "compose"), "-f", str(ROOT / "compose/compose.yaml"), *env_args(env_file), "--profile", "app"]
    out = subprocess.run([*compose, "build", "app-build", "app"], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "DOCKER_BUILDKIT": "0"}, cwd=ROOT)
    assert out.returncode != 0
    assert f"build: APP_DIR={tmp_path / 'shop'} has no requirements.txt" in out.stdout + out.stderr


def test_static_files_of_another_app_are_refused(tmp_path):
    """The demo's APP_STATIC_DIR left in .env after APP_DIR moved to your app."""
    if engine_error():
        pytest.skip(f"Docker unavailable: {engine_error()}")
    env_file = write_test_env(tmp_path, APP_DIR="../examples/bookshelf", APP_STATIC_DIR="../app/demo/static")
    compose = ["docker", "compose", "--project-directory", str(ROOT / "compose"), "-f",
               str(ROOT / "compose/compose.yaml"), *env_args(env_file)]
    out = subprocess.run([sys.executable, str(ROOT / "scripts/preflight.py"), "proxy", "--", *compose],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "is not inside APP_DIR=../examples/bookshelf" in out.stderr, out.stderr
