"""Alerts reach a person: Prometheus fires, Alertmanager routes and inhibits, and a receiver (a
webhook TEST DOUBLE speaking real HTTP, tests/support/webhook_double.py) gets the notification.
Real Prometheus and Alertmanager containers; the app is stopped for real."""

from datetime import UTC, datetime

import pytest
import requests
from support.apps import DEMO
from support.docker import require_images
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("metrics")
SERVICES = ["app", "nginx", "prometheus", "nginx-exporter", "alertmanager", "webhook-double"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE", "NGINX_IMAGE", "PROMETHEUS_IMAGE", "ALERTMANAGER_IMAGE")
    with compose_stack("alerts", ["metrics"], tmp_path_factory.mktemp("alerts"), services=SERVICES,
                       extra_files=("tests/integration/compose.alerts.yaml",),
                       ALERT_WEBHOOK_URL="http://webhook-double:8080/alerts",
                       ALERT_GROUP_WAIT="1s", ALERT_GROUP_INTERVAL="5s", **DEMO.env()) as running:
        running.prometheus = running.url("prometheus", 9090)
        running.alertmanager = running.url("alertmanager", 9093)
        yield running


def notifications(stack) -> list[dict]:
    """Every notification the double received, in order."""
    return [line for line in stack.json_logs("webhook-double") if line.get("double") == "webhook"]


def about(stack, alertname: str, status: str) -> list[dict]:
    return [n["body"] for n in notifications(stack)
            if n["body"]["status"] == status and n["body"]["commonLabels"].get("alertname") == alertname]


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
        synthetic = [{"labels": {"alertname": "FlaskHigh5xxRatio", "job": "flask", "severity": "critical"},
                      "annotations": {"summary": "sent by the test while the app is down"}}]
        assert requests.post(stack.alertmanager + "/api/v2/alerts", json=synthetic, timeout=10).ok

        def inhibited():
            alerts = requests.get(stack.alertmanager + "/api/v2/alerts",
                                  params={"filter": 'alertname="FlaskHigh5xxRatio"'}, timeout=10).json()
            return alerts and alerts[0]["status"]["inhibitedBy"]
        wait_until(inhibited, 30, "FlaskHigh5xxRatio inhibited by FlaskTargetDown", 1)
        # Resolved before the app is back: once nothing inhibits it, a live alert would be sent.
        synthetic[0]["endsAt"] = datetime.now(UTC).isoformat()
        assert requests.post(stack.alertmanager + "/api/v2/alerts", json=synthetic, timeout=10).ok
    finally:
        stack.service("start", "app")
    resolved = wait_until(lambda: about(stack, "FlaskTargetDown", "resolved"), 120, "the resolved notification", 2)
    assert resolved[0]["alerts"][0]["labels"]["alertname"] == "FlaskTargetDown"
    # Exactly one page for the outage, and never one for the inhibited alert.
    assert len(about(stack, "FlaskTargetDown", "firing")) == 1
    assert not about(stack, "FlaskHigh5xxRatio", "firing")
