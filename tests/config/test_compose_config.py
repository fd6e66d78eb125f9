"""`docker compose config` for every profile, and the rules every service follows."""

import re
import subprocess

import pytest
import yaml
from support.docker import COMPOSE_FILE, ROOT, compose_config, require_engine, write_test_env

PROFILES = ["app", "proxy", "metrics", "logs", "full"]
UIS = {"grafana": 3000, "prometheus": 9090, "alertmanager": 9093, "kibana": 5601}


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    require_engine()
    return write_test_env(tmp_path_factory.mktemp("env"), HTTP_PORT="8080", HTTPS_PORT="8443",
                          PROMETHEUS_PORT="9090", GRAFANA_PORT="3000", KIBANA_PORT="5601", APP_PORT="8000",
                          HTTP_BIND="0.0.0.0", HTTPS_BIND="0.0.0.0")


def config_for(profile, env_file):
    extra = ("compose/publish-app.yaml",) if profile == "app" else ()
    return compose_config([profile], env_file, extra)


# Services that run once and exit 0 (depended on with service_completed_successfully).
ONE_SHOTS = {"app-build", "shipping-off", "shipping-on", "alertmanager-config", "prometheus-rules"}


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_is_valid_and_healthchecked(profile, env_file):
    services = config_for(profile, env_file)["services"]
    assert "app" in services
    for name, service in services.items():
        assert "container_name" not in service, f"{name} sets container_name"
        if name in ONE_SHOTS:
            assert service["restart"] == "no" and service["network_mode"] == "none", name
        else:
            check = service.get("healthcheck", {})
            assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        for dep, cond in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dep in ONE_SHOTS else "service_healthy"
            assert cond["condition"] == wanted, f"{name} -> {dep}: {cond}"


@pytest.mark.parametrize(("profile", "expected"), [
    ("app", {"app"}),
    ("proxy", {"app", "nginx"}),
    ("metrics", {"app", "nginx", "prometheus", "prometheus-rules", "alertmanager", "alertmanager-config",
                 "nginx-exporter", "blackbox-exporter", "grafana"}),
    ("logs", {"app", "nginx", "elasticsearch", "setup", "logstash", "kibana", "shipping-on"}),
    ("full", {"app", "nginx", "prometheus", "prometheus-rules", "alertmanager", "alertmanager-config",
              "nginx-exporter", "blackbox-exporter", "grafana",
              "elasticsearch", "setup", "logstash", "kibana", "shipping-on"}),
])
def test_profiles_start_the_documented_services(profile, expected, env_file):
    assert set(config_for(profile, env_file)["services"]) == expected | {"app-build", "shipping-off"}


@pytest.mark.parametrize(("profile", "ships"), [("app", False), ("proxy", False), ("metrics", False),
                                                ("logs", True), ("full", True)])
def test_the_logs_profiles_themselves_switch_shipping_on(profile, ships, env_file):
    """Plain `docker compose --profile logs up` ships: the profile's own one-shot writes the
    Logstash host to the file the app and Nginx read, after every profile's one-shot cleared it."""
    services = config_for(profile, env_file)["services"]
    app, nginx = services["app"], services.get("nginx")
    assert app["environment"]["LOGSTASH_HOST_FILE"] == "/run/deployment/logstash-host"
    assert app["environment"].get("LOGSTASH_HOST", "") == ""  # nothing to resolve unless the profile says so
    assert ("shipping-on" in services) is ships
    assert app["depends_on"]["shipping-off"]["condition"] == "service_completed_successfully"
    if ships:
        assert services["shipping-on"]["depends_on"] == {"shipping-off": {
            "condition": "service_completed_successfully", "required": True}}
        assert "echo logstash > /deployment/logstash-host" in services["shipping-on"]["command"][-1]
    for one_shot in {"shipping-off", "shipping-on"} & set(services):  # the build image: never pulled
        assert services[one_shot]["image"] == services["app-build"]["image"]
        assert services[one_shot]["pull_policy"] == "never"
    if nginx:
        assert nginx["environment"]["NGINX_ACCESS_LOG_FILE"] == "auto"
        assert any(v["target"] == "/run/deployment" for v in nginx["volumes"])


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


def readme_settings() -> dict[str, list[str]]:
    """The variables in the README's settings tables, by table ("flaskobs", "gunicorn", "demo",
    "fixed", "deployment"), from rows like | `NAME` | or | `A`, `B` |."""
    tables, current = {}, None
    for line in (ROOT / "README.md").read_text().splitlines():
        heading = re.match(r"#+ .*<!-- settings: (\w+) -->", line)
        if heading:
            current = tables.setdefault(heading.group(1), [])
        elif line.startswith("#"):
            current = None
        elif current is not None and line.startswith("| `"):
            current += re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    return tables


def test_every_documented_setting_reaches_the_app_container(tmp_path):
    """Each variable of the README's app, Gunicorn and demo tables, set in .env, is in the app
    container's environment with that value; the container-layout ones keep their fixed value."""
    require_engine()
    tables = readme_settings()
    documented = sorted(set(tables["flaskobs"] + tables["gunicorn"] + tables["demo"]) - set(tables["fixed"]))
    assert len(documented) > 30 and "GUNICORN_ACCESS_LOG" in documented and "MAX_CONTENT_LENGTH" in documented
    values = {name: f"value-of-{name.lower()}" for name in documented}
    env_file = write_test_env(tmp_path, **values)
    app = compose_config(["proxy"], env_file)["services"]["app"]["environment"]
    for name in documented:
        assert app.get(name) == values[name], f"{name} does not reach the app (got {app.get(name)!r})"
    fixed = {"METRICS_PORT": "9101", "METRICS_HOST": "0.0.0.0", "PROMETHEUS_MULTIPROC_DIR": "/run/metrics",
             "LOG_QUEUE_DIR": "/var/lib/app/log-queue", "GUNICORN_BIND": "unix:/srv/app-socket/gunicorn.sock"}
    assert set(tables["fixed"]) == set(fixed)
    env_file = write_test_env(tmp_path / "fixed", **{name: "/elsewhere" for name in fixed})
    app = compose_config(["proxy"], env_file)["services"]["app"]["environment"]
    assert {name: app[name] for name in fixed} == fixed


def test_the_flaskobs_table_is_the_packages_own_list():
    from flaskobs.settings import SPECS
    assert sorted(readme_settings()["flaskobs"]) == sorted(spec.env for spec in SPECS.values())


def test_other_services_secrets_never_reach_the_app(env_file):
    app = config_for("full", env_file)["services"]["app"]["environment"]
    assert len(app["SECRET_KEY"]) >= 32
    for secret in ("GRAFANA_ADMIN_PASSWORD", "GRAFANA_SECRET_KEY", "ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD",
                   "LOGSTASH_INTERNAL_PASSWORD", "GRAFANA_ES_PASSWORD", "KIBANA_ENCRYPTION_KEY"):
        assert app[secret] == "", secret


def test_behind_nginx_the_app_has_only_a_socket_and_alone_it_has_port(tmp_path):
    require_engine()
    services = compose_config(["proxy"], write_test_env(tmp_path, PORT="8123"))["services"]
    socket = "unix:/srv/app-socket/gunicorn.sock"
    assert services["app"]["environment"]["GUNICORN_BIND"] == socket
    assert services["nginx"]["environment"]["APP_UPSTREAM"] == socket
    assert services["app"]["expose"] == ["9101"] and "ports" not in services["app"]
    # The health check asks where Gunicorn binds, read from the same GUNICORN_BIND in the container.
    assert services["app"]["healthcheck"]["test"] == ["CMD", "python3", "-m", "flaskobs.healthcheck"]
    alone = compose_config(["app"], write_test_env(tmp_path / "alone", PORT="8123"),
                           ("compose/publish-app.yaml",))["services"]["app"]
    assert alone["environment"]["GUNICORN_BIND"] == "0.0.0.0:8123"
    assert [p["target"] for p in alone["ports"]] == [8123]


def test_your_app_comes_from_app_dir_and_app_module(tmp_path):
    require_engine()
    services = compose_config(["proxy"], write_test_env(
        tmp_path, APP_DIR="../examples/bookshelf", APP_MODULE="app:create_app()",
        APP_STATIC_DIR="../examples/bookshelf/app/static"))["services"]
    assert services["app"]["build"]["context"] == str(ROOT / "examples/bookshelf")
    assert services["app"]["build"]["dockerfile"] == str(ROOT / "services/app/app.Dockerfile")
    assert services["app"]["environment"]["APP_MODULE"] == "app:create_app()"
    static = next(v for v in services["nginx"]["volumes"] if v["target"] == "/srv/static")
    assert static["source"] == str(ROOT / "examples/bookshelf/app/static") and static["read_only"]
    defaults = compose_config(["proxy"], write_test_env(tmp_path / "d"))["services"]
    assert defaults["app"]["build"]["context"] == str(ROOT / "app")
    assert defaults["app"]["environment"]["APP_MODULE"] == "demo:create_app()"
    assert next(v for v in defaults["nginx"]["volumes"] if v["target"] == "/srv/static")["type"] == "volume"


@pytest.mark.parametrize(("env", "public"), [
    ({"HTTPS_PORT": "9443", "HTTP_PORT": "9080"}, ("9443", "9080")),  # the README's side-by-side example
    ({"HTTPS_PORT": "8443", "PUBLIC_HTTPS_PORT": "443", "PUBLIC_HTTP_PORT": "80"}, ("443", "80")),  # behind a balancer
])
def test_the_public_ports_follow_the_published_ones(tmp_path, env, public):
    """Changing only HTTPS_PORT used to leave redirects and links on 8443."""
    require_engine()
    nginx = compose_config(["proxy"], write_test_env(tmp_path, **env))["services"]["nginx"]["environment"]
    assert (nginx["PUBLIC_HTTPS_PORT"], nginx["PUBLIC_HTTP_PORT"]) == public


# Upstream images that write outside their volumes at start (plugins, keystores, caches); they
# still get no-new-privileges and a memory limit.
WRITABLE_ROOT = {"elasticsearch", "logstash", "kibana", "grafana", "setup"}


@pytest.mark.parametrize("profile", PROFILES)
def test_long_running_services_are_hardened(profile, env_file):
    """Nginx, Prometheus and the exporter had writable root filesystems and no memory limits."""
    for name, service in config_for(profile, env_file)["services"].items():
        if name in ONE_SHOTS or service.get("restart") == "no":
            continue
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("mem_limit"), f"{name} has no memory limit"
        if name not in WRITABLE_ROOT:
            assert service.get("read_only") is True, f"{name} has a writable root filesystem"
