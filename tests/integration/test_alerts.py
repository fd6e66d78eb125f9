"""Alerts reach a person: Prometheus fires, Alertmanager routes, inhibits, retries and silences,
and the receivers get the notification: TEST DOUBLES speaking the real protocols, a webhook
endpoint (tests/support/webhook_double.py, which refuses its first POST with a 500) and a mail
server (tests/support/smtp_double.py). Real Prometheus and Alertmanager containers; the app is
stopped for real. Under each server (the alerts read the same series from either)."""

import os
import re
import subprocess
from datetime import UTC, datetime

import pytest
import requests
from support.apps import DEMO, DEMO_UWSGI
from support.docker import ROOT, env_files, require_images
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("metrics")
SERVICES = ["app", "nginx", "prometheus", "nginx-exporter", "alertmanager", "webhook-double", "smtp-double"]


@pytest.fixture(scope="module", params=[DEMO, DEMO_UWSGI], ids=lambda app: app.server)
def stack(request, tmp_path_factory):
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE", "NGINX_IMAGE", "PROMETHEUS_IMAGE", "ALERTMANAGER_IMAGE")
    app = request.param
    with compose_stack(f"alerts-{app.server}", ["metrics"], tmp_path_factory.mktemp(f"alerts-{app.server}"),
                       services=SERVICES,
                       extra_files=("tests/integration/compose.alerts.yaml",),
                       ALERT_WEBHOOK_URL="http://webhook-double:8080/alerts", WEBHOOK_FAIL_FIRST="1",
                       ALERT_EMAIL_TO="oncall@example.com", ALERT_EMAIL_FROM="alerts@example.com",
                       ALERT_SMTP_SMARTHOST="smtp-double:2525", ALERT_SMTP_REQUIRE_TLS="false",
                       ALERT_GROUP_WAIT="1s", ALERT_GROUP_INTERVAL="5s", **app.env()) as running:
        running.prometheus = running.url("prometheus", 9090)
        running.alertmanager = running.url("alertmanager", 9093)
        yield running


def notifications(stack) -> list[dict]:
    """Every POST the webhook double received, in order, with the status it answered."""
    return [line for line in stack.json_logs("webhook-double") if line.get("double") == "webhook"]


def about(stack, alertname: str, status: str) -> list[dict]:
    """The notifications of that alert and status the webhook double accepted (answered 200)."""
    return [n["body"] for n in notifications(stack) if n["status"] == 200
            and n["body"]["status"] == status and n["body"]["commonLabels"].get("alertname") == alertname]


def mails(stack) -> list[dict]:
    return [line for line in stack.json_logs("smtp-double") if line.get("double") == "smtp"]


def post_alert(stack, labels: dict, ends_now: bool = False) -> None:
    alert = {"labels": labels, "annotations": {"summary": "sent by the test"}}
    if ends_now:
        alert["endsAt"] = datetime.now(UTC).isoformat()
    assert requests.post(stack.alertmanager + "/api/v2/alerts", json=[alert], timeout=10).ok


def held_alert(stack, alertname: str) -> dict | None:
    alerts = requests.get(stack.alertmanager + "/api/v2/alerts", params={"filter": f'alertname="{alertname}"'},
                          timeout=10).json()
    return alerts[0] if alerts else None


def test_alertmanager_is_a_healthy_target_and_loopback_only(stack):
    assert stack.compose.get_service_host("alertmanager", 9093) == "127.0.0.1"
    status = requests.get(stack.alertmanager + "/api/v2/status", timeout=10).json()
    assert status["cluster"]["status"] == "disabled"  # one instance: no gossip, no peers

    def up():
        targets = requests.get(stack.prometheus + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in targets}.get("alertmanager") == "up"
    wait_until(up, 60, "Prometheus scraping Alertmanager", 1)
    ams = requests.get(stack.prometheus + "/api/v1/alertmanagers", timeout=10).json()["data"]["activeAlertmanagers"]
    assert [a["url"] for a in ams] == ["http://alertmanager:9093/api/v2/alerts"]


def test_app_down_pages_once_inhibits_the_rest_and_resolves(stack):
    stack.service("stop", "app")
    try:
        # FlaskTargetDown is `for: 1m` on 15 s scrapes and evaluations, then a 1 s group wait.
        firing = wait_until(lambda: about(stack, "FlaskTargetDown", "firing"), 150, "the app-down notification", 2)
        note = firing[0]
        assert note["receiver"] == "page" and note["commonLabels"]["severity"] == "critical"
        assert note["commonLabels"]["job"] == "flask"
        alert = note["alerts"][0]
        assert alert["annotations"]["summary"] and "runbook_url" in alert["annotations"]

        # While the app is down, its other alerts are consequences: Alertmanager holds them back.
        consequence = {"alertname": "FlaskHigh5xxRatio", "job": "flask", "severity": "critical"}
        post_alert(stack, consequence)
        wait_until(lambda: (held_alert(stack, "FlaskHigh5xxRatio") or {}).get("status", {}).get("inhibitedBy"),
                   30, "FlaskHigh5xxRatio inhibited by FlaskTargetDown", 1)
        # Resolved before the app is back: once nothing inhibits it, a live alert would be sent.
        post_alert(stack, consequence, ends_now=True)
    finally:
        stack.service("start", "app")
    resolved = wait_until(lambda: about(stack, "FlaskTargetDown", "resolved"), 120, "the resolved notification", 2)
    assert resolved[0]["alerts"][0]["labels"]["alertname"] == "FlaskTargetDown"
    # Exactly one page for the outage, and never one for the inhibited alert.
    assert len(about(stack, "FlaskTargetDown", "firing")) == 1
    assert not about(stack, "FlaskHigh5xxRatio", "firing")


def test_a_failing_receiver_is_retried_and_counted(stack):
    """The double refused the first notification with a 500: Alertmanager sent it again and
    counted the failed attempt; the notification itself was delivered, so it is not counted as
    failed (alertmanager_notifications_failed_total, what AlertNotificationsFailing watches,
    counts the ones Alertmanager gave up on)."""
    wait_until(lambda: about(stack, "FlaskTargetDown", "firing") or None, 150, "a delivered page", 2)
    first = notifications(stack)[0]
    assert first["status"] == 500 and first["body"]["commonLabels"]["alertname"] == "FlaskTargetDown"
    metrics = requests.get(stack.alertmanager + "/metrics", timeout=10).text

    def total(name: str) -> float:
        values = re.findall(rf'^{name}\{{[^}}]*integration="webhook"[^}}]*\}} (\S+)$', metrics, re.M)
        assert values, f"{name} is not exported"
        return sum(float(value) for value in values)
    assert total("alertmanager_notification_requests_failed_total") >= 1
    assert total("alertmanager_notifications_failed_total") == 0


def test_the_page_reaches_the_mail_server(stack):
    """Critical alerts go by email too: the subject and text the README shows."""
    def firing_mail():
        return [m for m in mails(stack) if "Subject: [FIRING] FlaskTargetDown (flask)" in m["data"]]
    mail = wait_until(firing_mail, 150, "the app-down email", 2)[0]
    assert mail["from"] == "<alerts@example.com>" and mail["to"] == ["<oncall@example.com>"]
    assert "Runbook: docs/runbook.md#flasktargetdown" in mail["data"]
    assert "is down" in mail["data"]  # the summary, filled in for the instance


def test_make_silence_holds_an_alert_back_across_a_restart(stack):
    env = ["--env-file " + path for path in [*env_files(), str(stack.env_file)]]
    project = stack.compose.project
    made = subprocess.run(["make", "--no-print-directory", "silence", "ALERT=FlaskNoTraffic", "FOR=10m",
                           f"PROJECT={project}", f"ENV_FILES={' '.join(env)}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "USER": "tester"})
    assert made.returncode == 0, made.stdout + made.stderr

    def active_silence():
        silences = requests.get(stack.alertmanager + "/api/v2/silences", timeout=10).json()
        return [s for s in silences if s["status"]["state"] == "active"
                and {"name": "alertname", "value": "FlaskNoTraffic", "isRegex": False, "isEqual": True}
                in s["matchers"]]
    assert active_silence()[0]["createdBy"] == "tester"
    stack.service("restart", "alertmanager")
    wait_until(lambda: stack.health("alertmanager") == "healthy", 60, "Alertmanager back")
    stack.alertmanager = stack.url("alertmanager", 9093)  # a restart publishes on a new host port
    wait_until(active_silence, 30, "the silence, after the restart")
    post_alert(stack, {"alertname": "FlaskNoTraffic", "job": "flask", "severity": "warning"})
    wait_until(lambda: (held_alert(stack, "FlaskNoTraffic") or {}).get("status", {}).get("silencedBy"),
               30, "FlaskNoTraffic silenced", 1)
    post_alert(stack, {"alertname": "FlaskNoTraffic", "job": "flask", "severity": "warning"}, ends_now=True)
    assert not about(stack, "FlaskNoTraffic", "firing")


def test_make_silence_refuses_a_bad_name_or_duration():
    for args, message in ((["ALERT="], "silence: ALERT is not set"),
                          (["ALERT=a b"], "silence: ALERT=a b is not an alert name"),
                          (["ALERT=X", "FOR=soon"], "silence: FOR=soon is not a duration")):
        out = subprocess.run(["make", "--no-print-directory", "silence", *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 2 and message in out.stderr, out.stderr
