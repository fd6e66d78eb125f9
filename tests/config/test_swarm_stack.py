"""The stack file `make swarm-stack` writes, for the profiles whose images cannot run here
(Elasticsearch, Logstash, Kibana, Grafana): no password in it, each service reads its secrets
from files, and the logs services and Nginx's log shipping placed where the README says.
The swarm tier (tests/integration/test_swarm.py) deploys the rest on a real swarm."""

import json
import subprocess

import pytest
from support.docker import ROOT, compose_config, write_test_env

SECRET_VARS = ("SECRET_KEY", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_SECRET_KEY", "ELASTIC_PASSWORD",
               "KIBANA_SYSTEM_PASSWORD", "LOGSTASH_INTERNAL_PASSWORD", "GRAFANA_ES_PASSWORD", "KIBANA_ENCRYPTION_KEY")
WRAPPER = "/flaskobs/env-from-files.sh"


def secrets_of(env_file) -> dict[str, str]:
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {name: values[name] for name in SECRET_VARS}


def stack(tmp_path, profile: str, **settings: str) -> tuple[dict, dict, str]:
    """(the Compose model, the stack file, the stack file's text) for `profile`."""
    env_file = write_test_env(tmp_path, HTTP_PORT="8080", HTTPS_PORT="8443", **settings)
    model = compose_config([profile], env_file, ("compose/swarm.yaml",))
    out = subprocess.run(["python3", "scripts/swarm_stack.py", "--out", str(tmp_path / "out")],
                         input=json.dumps(model), capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "out" / "stack.yml").read_text()
    return model, json.loads(text), text


@pytest.fixture
def full(tmp_path):
    model, document, text = stack(tmp_path, "full")
    return model, document, text, secrets_of(tmp_path / "test.env")


def test_no_password_is_in_the_stack_file(full):
    model, _, text, secrets = full
    # Negative control: the Compose model the file is made from holds every one of them.
    assert all(value in json.dumps(model) for value in secrets.values())
    leaked = [name for name, value in secrets.items() if value in text]
    assert not leaked, f"in stack.yml as plain text: {leaked}"


def test_every_secret_a_service_had_is_a_file_it_reads(full):
    model, document, _, secrets = full
    by_value = {value: name for name, value in secrets.items()}
    for name, svc in model["services"].items():
        wanted = {var for var, value in (svc.get("environment") or {}).items() if value in by_value}
        if not wanted or name not in document["services"]:
            continue
        out = document["services"][name]
        targets = {s["target"] for s in out.get("secrets", [])}
        assert wanted <= targets, (name, wanted - targets)
        env = out["environment"]
        for var in wanted:  # X_FILE, or X__FILE for Grafana's own settings
            assert f"/run/secrets/{var}" in (env.get(f"{var}_FILE"), env.get(f"{var}__FILE")), (name, var)
        # Who reads X_FILE: flaskobs-serve, Elasticsearch's image, Grafana (X__FILE), else the wrapper.
        native = name in ("app", "elasticsearch") or all(f"{var}__FILE" in env for var in wanted)
        entry = [*out.get("entrypoint", []), *out.get("command", [])]
        assert native or WRAPPER in entry, f"{name} reads {sorted(wanted)} from the environment only"
        if WRAPPER in entry:
            assert WRAPPER in {c["target"] for c in out["configs"]}


def test_the_logs_services_run_on_the_logs_node_with_their_data(full):
    _, document, _, _ = full
    services = document["services"]
    for name in ("elasticsearch", "setup", "logstash", "kibana"):
        assert services[name]["deploy"]["placement"]["constraints"] == ["node.labels.flaskobs.logs == true"], name
    assert {v["source"] for v in services["elasticsearch"]["volumes"]} == {"es-data"}
    assert "/var/log/nginx-access" not in {v["target"] for v in services["logstash"].get("volumes", [])}
    assert services["setup"]["deploy"]["restart_policy"]["condition"] == "on-failure"


def test_nginx_logs_are_shipped_from_every_ingress_node(full):
    _, document, _, _ = full
    services = document["services"]
    shipper = services["nginx-log-shipper"]
    assert shipper["deploy"]["mode"] == "global"
    assert shipper["deploy"]["placement"]["constraints"] == services["nginx"]["deploy"]["placement"]["constraints"]
    mounts = {v["target"]: v for v in shipper["volumes"]}
    nginx_logs = next(v for v in services["nginx"]["volumes"] if v["target"] == "/var/log/nginx/flaskobs")
    assert mounts["/var/log/nginx-access"]["source"] == nginx_logs["source"]  # the node's own log volume
    assert shipper["environment"]["LOGSTASH_HOST"] == "logstash"
    assert services["nginx"]["environment"]["NGINX_ACCESS_LOG_FILE"] == "on"
    assert services["app"]["environment"]["LOGSTASH_HOST"] == "logstash"


def test_without_logstash_nothing_is_shipped_and_settings_in_env_win(tmp_path):
    _, metrics, _ = stack(tmp_path / "metrics", "metrics")
    assert "nginx-log-shipper" not in metrics["services"]
    assert metrics["services"]["nginx"]["environment"]["NGINX_ACCESS_LOG_FILE"] == "auto"  # off: no Logstash
    assert "LOGSTASH_HOST" not in metrics["services"]["app"]["environment"]
    _, own, _ = stack(tmp_path / "own", "full", NGINX_ACCESS_LOG_FILE="off", LOGSTASH_HOST="logs.example.internal")
    assert own["services"]["nginx"]["environment"]["NGINX_ACCESS_LOG_FILE"] == "off"
    assert own["services"]["app"]["environment"]["LOGSTASH_HOST"] == "logs.example.internal"
    assert own["services"]["nginx-log-shipper"]["environment"]["LOGSTASH_HOST"] == "logs.example.internal"
