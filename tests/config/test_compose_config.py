"""`docker compose config` for every profile, and the rules every service follows."""

import re
import subprocess

import pytest
import yaml
from support.docker import COMPOSE_FILE, ROOT, compose_config, require_engine, write_test_env

PROFILES = ["app", "proxy", "metrics", "logs", "full"]
UIS = {"grafana": 3000, "prometheus": 9090, "kibana": 5601}


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    require_engine()
    return write_test_env(tmp_path_factory.mktemp("env"), HTTP_PORT="8080", HTTPS_PORT="8443",
                          PROMETHEUS_PORT="9090", GRAFANA_PORT="3000", KIBANA_PORT="5601", APP_PORT="8000",
                          HTTP_BIND="0.0.0.0", HTTPS_BIND="0.0.0.0")


def config_for(profile, env_file):
    extra = ("compose/publish-app.yaml",) if profile == "app" else ()
    return compose_config([profile], env_file, extra)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_is_valid_and_healthchecked(profile, env_file):
    services = config_for(profile, env_file)["services"]
    assert "app" in services
    for name, service in services.items():
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert "container_name" not in service, f"{name} sets container_name"
        for dep, cond in service.get("depends_on", {}).items():
            assert cond["condition"] == "service_healthy", f"{name} -> {dep}: {cond}"


@pytest.mark.parametrize(("profile", "expected"), [
    ("app", {"app"}),
    ("proxy", {"app", "nginx"}),
    ("metrics", {"app", "nginx", "prometheus", "nginx-exporter", "grafana"}),
    ("logs", {"app", "nginx", "elasticsearch", "setup", "logstash", "kibana"}),
    ("full", {"app", "nginx", "prometheus", "nginx-exporter", "grafana", "elasticsearch", "setup",
              "logstash", "kibana"}),
])
def test_profiles_start_the_documented_services(profile, expected, env_file):
    assert set(config_for(profile, env_file)["services"]) == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_only_the_entrance_is_public_and_uis_are_on_loopback(profile, env_file):
    entrance = "app" if profile == "app" else "nginx"
    for name, service in config_for(profile, env_file)["services"].items():
        for port in service.get("ports", []):
            if name == entrance and name == "nginx":
                assert port["target"] in (8080, 8443)
            elif name in UIS:
                assert port["host_ip"] == "127.0.0.1" and port["target"] == UIS[name], (name, port)
            elif name == "app" and profile == "app":
                assert port["target"] == 8000 and port["host_ip"] == "127.0.0.1"
            else:
                pytest.fail(f"{name} publishes {port} in profile {profile}")


def test_every_image_comes_from_a_variable_and_is_pinned():
    raw = (ROOT / COMPOSE_FILE).read_text()
    images = re.findall(r"^\s+image:\s*(.+)$", raw, re.M)
    assert images and all(re.fullmatch(r"\$\{[A-Z_]+_IMAGE\}", i.strip()) for i in images), images
    pinned = (ROOT / "compose/images.env").read_text()
    for var in {i.strip()[2:-1] for i in images}:
        value = re.search(rf"^{var}=(.+)$", pinned, re.M)
        assert value, f"{var} is not pinned in compose/images.env"
        assert not value.group(1).endswith(":latest") and ":" in value.group(1), value.group(1)


def test_image_services_never_pull_in_air_gapped_mode(env_file, tmp_path):
    airgap = tmp_path / "airgap.env"
    airgap.write_text("PULL_POLICY=never\n")
    cmd = ["docker", "compose", "--project-directory", "compose", "-f", COMPOSE_FILE,
           "--env-file", str(ROOT / "compose/images.env"), "--env-file", str(env_file), "--env-file", str(airgap),
           "--profile", "full", "config", "--format", "json"]
    services = yaml.safe_load(subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    for name, service in services["services"].items():
        assert "build" in service or service.get("pull_policy") == "never", name


def test_missing_secret_fails_with_a_hint(tmp_path):
    require_engine()
    empty = tmp_path / "empty.env"
    empty.write_text("")
    out = subprocess.run(["docker", "compose", "--project-directory", "compose", "-f", COMPOSE_FILE,
                          "--env-file", str(ROOT / "compose/images.env"), "--env-file", str(empty),
                          "--profile", "app", "config"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0
    assert "is not set: run `make init`" in out.stderr


def test_no_default_passwords_anywhere():
    for path in ["compose/compose.yaml", ".env.example", "compose/images.env"]:
        text = (ROOT / path).read_text().lower()
        for weak in ("changeme", "password=admin", "admin:admin"):
            assert weak not in text, (path, weak)
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    for key in ("SECRET_KEY", "GRAFANA_ADMIN_PASSWORD", "ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD",
                "LOGSTASH_INTERNAL_PASSWORD", "GRAFANA_ES_PASSWORD", "KIBANA_ENCRYPTION_KEY", "GRAFANA_SECRET_KEY"):
        assert example[key] == "", f"{key} must be empty in .env.example (make init fills it)"
