"""PROXY=caddy, checked without a stack: the compose files put Caddy in Nginx's place in every
profile, the Makefile refuses an unknown PROXY, and Caddy's entry point refuses bad settings by
name and renders a Caddyfile that Caddy itself validates (in the image that runs it)."""

import subprocess

import pytest
from support.docker import ROOT, build_image, compose_config, image_vars, require_images, write_test_env

CADDY = ("compose/proxy-caddy.yaml",)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    return write_test_env(tmp_path_factory.mktemp("caddy-env"), HTTP_PORT="8080", HTTPS_PORT="8443")


@pytest.mark.parametrize("profile", ["proxy", "metrics", "logs", "full"])
def test_caddy_takes_nginxs_place_in_every_profile(profile, env_file):
    services = compose_config([profile], env_file, CADDY)["services"]
    assert "caddy" in services and "nginx" not in services and "nginx-exporter" not in services
    ports = {p["target"] for p in services["caddy"]["ports"]}
    assert ports == {8080, 8443}
    if "prometheus" in services:
        mounts = {v["target"]: v["source"] for v in services["prometheus"]["volumes"]}
        assert mounts["/etc/prometheus-targets"].endswith("prometheus/targets/compose-caddy")
    # Negative control: without the file, the same profile runs Nginx.
    assert "nginx" in compose_config([profile], env_file)["services"]


def test_an_unknown_proxy_stops_make_naming_the_allowed_values():
    out = subprocess.run(["make", "-s", "help", "PROXY=traefik"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "PROXY=traefik is not allowed; allowed: nginx, caddy" in out.stderr
    good = subprocess.run(["make", "-s", "help", "PROXY=caddy"], cwd=ROOT, capture_output=True, text=True)
    assert good.returncode == 0 and "PROXY=caddy" in good.stdout


def test_make_reads_proxy_from_env_file_as_compose_does(tmp_path):
    """PROXY in .env, with an inline comment as compose's env files allow; a bad one is named."""
    import shutil
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".env").write_text("PROXY=caddy      # nginx | caddy\n")
    out = subprocess.run(["make", "-s", "help"], cwd=tmp_path, capture_output=True, text=True)
    assert "PROXY=caddy (one of" in out.stdout, out.stderr
    (tmp_path / ".env").write_text("PROXY=traefik\n")
    out = subprocess.run(["make", "-s", "help"], cwd=tmp_path, capture_output=True, text=True)
    assert "PROXY=traefik is not allowed; allowed: nginx, caddy" in out.stderr


@pytest.fixture(scope="module")
def caddy_image():
    require_images("DEBIAN_IMAGE")
    image = image_vars()["CADDY_IMAGE"]
    build_image(image, ROOT / "services/caddy", BASE_IMAGE=image_vars()["DEBIAN_IMAGE"])
    return image


def entrypoint(image: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    """The entry point as the caddy service runs it, then `true` instead of Caddy."""
    certs = tmp_path / "certs"
    certs.mkdir(exist_ok=True)
    cmd = ["docker", "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp",
           "--tmpfs", "/data", "--tmpfs", "/var/log/caddy", "-v", f"{ROOT}/services/caddy:/etc/caddy/flaskobs:ro",
           "-v", f"{certs}:/etc/caddy/certs:ro"]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    return subprocess.run([*cmd, image, "true"], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("env", [
    {}, {"TLS": "off"}, {"APP_URL_PREFIX": "/shop", "APP_STATIC_DIR": "/srv/static"},
    {"CADDY_CERTIFICATES": "acme", "SERVER_NAME": "shop.example.org", "ACME_EMAIL": "ops@example.org"},
    {"CADDY_ACCESS_LOG_FILE": "on", "CLIENT_MAX_BODY_SIZE": "10m", "PUBLIC_HTTPS_PORT": "443"},
], ids=["defaults", "tls-off", "prefix-static", "acme", "log-file"])
def test_good_settings_render_a_caddyfile_caddy_accepts(caddy_image, tmp_path, env):
    out = entrypoint(caddy_image, tmp_path, **env)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"TLS": "yes"}, "TLS=yes is not allowed; allowed: on, off"),
    ({"CADDY_CERTIFICATES": "self"}, "CADDY_CERTIFICATES=self is not allowed; allowed: internal, files, acme"),
    ({"CADDY_CERTIFICATES": "files"}, "CADDY_CERTIFICATES=files but /etc/caddy/certs/tls.crt is missing"),
    ({"APP_URL_PREFIX": "shop"}, "APP_URL_PREFIX=shop must start with '/'"),
    ({"CLIENT_MAX_BODY_SIZE": "lots"}, "CLIENT_MAX_BODY_SIZE=lots is not allowed"),
    ({"CADDY_ACCESS_LOG_FILE": "maybe"}, "CADDY_ACCESS_LOG_FILE=maybe is not allowed; allowed: auto, on, off"),
    ({"ACME_EMAIL": "ops"}, "ACME_EMAIL=ops is not an e-mail address"),
    ({"SERVER_NAME": "a.example,b.example"}, "SERVER_NAME=a.example,b.example must be host names"),
    ({"CONTENT_SECURITY_POLICY": "default-src {x}"}, "CONTENT_SECURITY_POLICY may not contain"),
])
def test_a_bad_setting_stops_caddy_naming_it(caddy_image, tmp_path, env, message):
    out = entrypoint(caddy_image, tmp_path, **env)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_rate_limit_settings_are_reported_as_not_applied(caddy_image, tmp_path):
    out = entrypoint(caddy_image, tmp_path, RATE_LIMIT="5r/s")
    assert out.returncode == 0 and "Caddy's standard build does not limit request rates" in out.stderr
