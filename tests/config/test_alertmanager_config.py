"""alertmanager.yml as services/alertmanager/render_config.py writes it from .env: checked by
amtool inside the Alertmanager image, with every receiver set and with none; bad settings stop
it naming the variable."""

import json
import os
import subprocess
import sys

import pytest
from support.docker import ROOT, tool_in_image

RENDER = ROOT / "services/alertmanager/render_config.py"
ALL_RECEIVERS = {
    "ALERT_WEBHOOK_URL": "http://hooks.example.internal:8080/alerts",
    "ALERT_SLACK_WEBHOOK_URL": "https://chat.example.internal/hooks/abc",
    "ALERT_SLACK_CHANNEL": "#ops",
    "ALERT_EMAIL_TO": "oncall@example.com",
    "ALERT_EMAIL_FROM": "alerts@example.com",
    "ALERT_SMTP_SMARTHOST": "smtp.example.internal:587",
    "ALERT_SMTP_USERNAME": "alerts",
    "ALERT_SMTP_PASSWORD": "s3cret",
}


def render(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALERT_")}
    return subprocess.run([sys.executable, str(RENDER), str(tmp_path / "alertmanager.yml")], env={**clean, **env},
                          capture_output=True, text=True, timeout=30)


def amtool_check(path) -> subprocess.CompletedProcess:
    return tool_in_image("ALERTMANAGER_IMAGE", "amtool", "check-config", "/check/alertmanager.yml",
                         mounts={str(path): "/check/alertmanager.yml"})


@pytest.mark.parametrize("env", [{}, ALL_RECEIVERS], ids=["no-receiver", "every-receiver"])
def test_rendered_config_passes_amtool(tmp_path, env):
    out = render(tmp_path, **env)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "alertmanager.yml"
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # it may hold receiver secrets
    check = amtool_check(path)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr


def test_amtool_check_can_fail(tmp_path):
    """The negative control: a route to a receiver that does not exist."""
    assert render(tmp_path).returncode == 0
    path = tmp_path / "alertmanager.yml"
    config = json.loads(path.read_text())
    config["route"]["routes"][0]["receiver"] = "nobody-by-that-name"
    path.write_text(json.dumps(config))
    check = amtool_check(path)
    assert check.returncode != 0 and "nobody-by-that-name" in check.stdout + check.stderr


def test_with_no_receiver_nothing_is_sent_and_it_says_so(tmp_path):
    out = render(tmp_path)
    assert "nothing is sent" in out.stdout
    config = json.loads((tmp_path / "alertmanager.yml").read_text())
    assert config["receivers"] == [{"name": "page"}, {"name": "chat"}]


def test_critical_pages_everywhere_and_warnings_skip_email(tmp_path):
    assert render(tmp_path, **ALL_RECEIVERS).returncode == 0
    config = json.loads((tmp_path / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers["page"]) == {"name", "webhook_configs", "slack_configs", "email_configs"}
    assert set(receivers["chat"]) == {"name", "webhook_configs", "slack_configs"}
    routes = {tuple(r["matchers"]): r["receiver"] for r in config["route"]["routes"]}
    assert routes == {('severity="critical"',): "page", ('severity="warning"',): "chat"}
    assert config["route"]["group_by"] == ["alertname", "job"]


@pytest.mark.parametrize(("env", "message"), [
    ({"ALERT_WEBHOOK_URL": "hooks.example.com/alerts"}, "ALERT_WEBHOOK_URL='hooks.example.com/alerts' is not a URL"),
    ({"ALERT_SLACK_WEBHOOK_URL": "ftp://x/y"}, "ALERT_SLACK_WEBHOOK_URL='ftp://x/y' is not a URL"),
    ({"ALERT_EMAIL_TO": "a@b.c", "ALERT_EMAIL_FROM": "d@e.f", "ALERT_SMTP_SMARTHOST": "smtp.example.com"},
     "ALERT_SMTP_SMARTHOST='smtp.example.com' is not host:port"),
    ({"ALERT_EMAIL_TO": "a@b.c"}, "email alerts need ALERT_EMAIL_FROM, ALERT_SMTP_SMARTHOST too"),
    ({"ALERT_EMAIL_TO": "not an address"}, "ALERT_EMAIL_TO='not an address' is not an email address"),
    ({**ALL_RECEIVERS, "ALERT_SMTP_PASSWORD": ""}, "ALERT_SMTP_USERNAME and ALERT_SMTP_PASSWORD go together"),
    ({"ALERT_GROUP_WAIT": "soon"}, "ALERT_GROUP_WAIT='soon' is not a duration"),
    ({**ALL_RECEIVERS, "ALERT_SMTP_REQUIRE_TLS": "maybe"}, "ALERT_SMTP_REQUIRE_TLS='maybe' is not a boolean"),
])
def test_a_bad_setting_stops_it_naming_the_variable(tmp_path, env, message):
    out = render(tmp_path, **env)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "alertmanager.yml").exists()
