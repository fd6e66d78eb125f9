"""Docker and Compose helpers: is an engine there, which images are local, the compose command."""

import functools
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts import preflight
from scripts.init_env import make_certs

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = "compose/compose.yaml"

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # the ryuk image cannot be pulled here


@functools.cache
def engine_error() -> str | None:
    """None when a Docker engine answers, else why not."""
    if not shutil.which("docker"):
        return "the docker CLI is not installed"
    out = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if out.returncode != 0:
        return f"no Docker engine answers ({out.stderr.strip()[:200]})"
    out = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if out.returncode != 0:
        return "the Docker Compose v2 plugin is missing"
    return None


def require_engine() -> None:
    reason = engine_error()
    if reason:
        pytest.skip(f"Docker unavailable: {reason}")


def env_files() -> list[str]:
    """The env files the Makefile passes, in the same order (later wins)."""
    files = [str(ROOT / "compose/images.env")]
    if (ROOT / ".airgap.env").exists():
        files.append(str(ROOT / ".airgap.env"))
    return files


def image_vars() -> dict[str, str]:
    values = {}
    for path in env_files():
        for line in Path(path).read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k.endswith("_IMAGE")})
    return values


def image_present(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def require_images(*variables: str) -> None:
    """Skip unless the images named by these variables (e.g. NGINX_IMAGE) are in the engine."""
    require_engine()
    values = image_vars()
    missing = [f"{v}={values.get(v)}" for v in variables if not image_present(values.get(v, ""))]
    if missing:
        pytest.skip("image not in the engine and no registry to pull from: " + ", ".join(missing)
                    + " (run `make images-airgap`, or `docker load` it)")


def build_image(tag: str, context: Path, **build_args: str) -> None:
    """`docker build` with the classic builder, which resolves FROM against local images only (a
    BuildKit build may ask a registry); fails the test with the build's output."""
    cmd = ["docker", "build", "-q", "-t", tag]
    for key, value in build_args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    out = subprocess.run([*cmd, str(context)], capture_output=True, text=True,
                         env={**os.environ, "DOCKER_BUILDKIT": "0"})
    assert out.returncode == 0, out.stdout + out.stderr


def tool_in_image(variable: str, tool: str, *args: str,
                  mounts: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `tool` (promtool, amtool) from the image named by `variable`, offline, with host paths
    mounted read-only ({host path: container path}); skip when the image is absent. The tools
    run as nobody, so a mounted directory others cannot enter (pytest's tmp_path) is opened to them."""
    require_images(variable)
    cmd = ["docker", "run", "--rm", "--network", "none", "--entrypoint", tool]
    for host, target in (mounts or {}).items():
        path = Path(host)
        if path.is_dir() and path.stat().st_mode & 0o005 != 0o005:
            path.chmod(path.stat().st_mode | 0o005)
        cmd += ["-v", f"{host}:{target}:ro"]
    return subprocess.run([*cmd, image_vars()[variable], *args], capture_output=True, text=True, timeout=120)


def load_script(relative: str):
    """One of the checkout's stand-alone scripts as a module (preflight's loader), by its path in the checkout."""
    return preflight.load_script(str(ROOT / relative))


def nginx_run(image: str, *docker_args: str, env: dict[str, str],
              command: tuple[str, ...] = ("nginx", "-g", "daemon off;")) -> list[str]:
    """`docker run` of our Nginx configuration alone, as the nginx service starts it: templates
    mounted read-only, rendered by render.sh into a tmpfs, `app` resolving to the host side."""
    cmd = ["docker", "run", *docker_args, "--add-host", "app:127.0.0.1", "--tmpfs", "/etc/nginx/conf.d",
           "-v", f"{ROOT}/services/nginx/config:/etc/nginx/flaskobs:ro",
           "-v", f"{ROOT}/services/nginx/config/nginx.conf:/etc/nginx/nginx.conf:ro", "--entrypoint", "/bin/sh"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    return [*cmd, image, "/etc/nginx/flaskobs/render.sh", *command]


def start_plain_nginx(name: str, *docker_args: str, wait: float, poll_timeout: float, **env: str) -> str:
    """Start our Nginx alone as container `name` (TLS off, its plain port published on loopback) and wait
    until it answers; return its URL. The caller removes the container."""
    import requests

    from .waiting import wait_until
    subprocess.run(nginx_run(image_vars()["NGINX_IMAGE"], "-d", "--name", name, *docker_args, "-p", "127.0.0.1::8080",
                             env={"TLS": "off", "SERVER_NAME": "127.0.0.1", **env}), check=True, capture_output=True)
    port = subprocess.run(["docker", "port", name, "8080"], capture_output=True, text=True,
                          check=True).stdout.split(":")[-1].strip()
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(url + "/api/hello", timeout=poll_timeout).status_code > 0
        except requests.RequestException:
            return False
    wait_until(answers, wait, f"Nginx ({name}) to answer")
    return url


def write_test_env(directory: Path, **overrides: str) -> Path:
    """An env file with fresh secrets, ephemeral loopback ports and a throwaway TLS pair."""
    certs = directory / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    make_certs(str(certs))  # as `make init` makes them
    path = directory / "test.env"
    values = {
        "FLASKOBS_DIR": str(ROOT),
        "APP_SETTINGS_FILE": str(path),  # the app container reads this file, not the developer's .env
        "SECRET_KEY": secrets.token_urlsafe(48),
        "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "GRAFANA_SECRET_KEY": secrets.token_urlsafe(24),
        "ELASTIC_PASSWORD": secrets.token_urlsafe(16),
        "KIBANA_SYSTEM_PASSWORD": secrets.token_urlsafe(16),
        "LOGSTASH_INTERNAL_PASSWORD": secrets.token_urlsafe(16),
        "GRAFANA_ES_PASSWORD": secrets.token_urlsafe(16),
        "KIBANA_ENCRYPTION_KEY": secrets.token_urlsafe(36),
        "TLS_CERT_DIR": str(certs),
        "SERVER_NAME": "localhost 127.0.0.1",
        # Empty host ports: Docker picks free ones, on loopback only.
        "HTTP_BIND": "127.0.0.1", "HTTP_PORT": "", "HTTPS_BIND": "127.0.0.1", "HTTPS_PORT": "",
        "APP_BIND": "127.0.0.1", "APP_PORT": "",
        "PROMETHEUS_PORT": "", "ALERTMANAGER_PORT": "", "GRAFANA_PORT": "", "KIBANA_PORT": "",
        "GUNICORN_WORKERS": "2",
    }
    values.update(overrides)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def compose_config(profiles: list[str], env_file: Path | None = None, extra_files: tuple[str, ...] = ()) -> dict:
    """`docker compose config` as JSON for these profiles, with the Makefile's files."""
    cmd = ["docker", "compose", "--project-directory", "compose", "-f", COMPOSE_FILE]
    for extra in extra_files:
        cmd += ["-f", extra]
    for path in [*env_files(), *( [str(env_file)] if env_file else [])]:
        cmd += ["--env-file", path]
    for profile in profiles:
        cmd += ["--profile", profile]
    out = subprocess.run([*cmd, "config", "--format", "json"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"docker compose config failed for {profiles}:\n{out.stderr}")
    return json.loads(out.stdout)
