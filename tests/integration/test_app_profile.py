"""The `app` profile: the app container alone, started for real from its image."""

import json
import re
import time
import uuid

import pytest
import requests
from support.docker import require_images
from support.stack import compose_stack

pytestmark = pytest.mark.stack("app")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One app-profile stack for the module: building and starting it is the slow part."""
    require_images("PYTHON_IMAGE")
    with compose_stack("app", ["app"], tmp_path_factory.mktemp("app"),
                       extra_files=("compose/publish-app.yaml",)) as running:
        yield running


def test_healthz_answers_through_the_published_port(stack):
    response = requests.get(stack.url("app", 8000) + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert stack.compose.get_service_host("app", 8000) == "127.0.0.1"  # loopback only


def test_container_is_healthy_and_not_root(stack):
    state = stack.run("ps", "--format", "json", "app").stdout
    rows = [json.loads(line) for line in state.splitlines() if line.strip()] if not state.startswith("[") \
        else json.loads(state)
    assert rows and rows[0]["Health"] == "healthy"
    uid = stack.exec("app", "id", "-u").stdout.strip()
    assert uid == "10001"


def test_readyz_reports_the_database(stack):
    body = requests.get(stack.url("app", 8000) + "/readyz", timeout=5).json()
    assert body == {"status": "ready", "checks": {"database": "ok"}}


def test_metrics_port_answers_with_request_counts(stack):
    base = stack.url("app", 8000)
    for _ in range(3):
        assert requests.get(base + "/api/hello", timeout=5).status_code == 200
    text = requests.get(stack.url("app", 9101) + "/metrics", timeout=5).text
    counted = r'flask_http_request_duration_seconds_count\{method="GET",status="200",url_rule="/api/hello"\} 3\.0'
    assert re.search(counted, text), text[:2000]
    assert re.search(r"^gunicorn_workers 2\.0$", text, re.M)


def test_request_id_appears_in_the_json_log(stack):
    request_id = f"it-{uuid.uuid4().hex}"
    response = requests.post(stack.url("app", 8000) + "/api/items", json={"name": "tea", "price": 2.5},
                             headers={"X-Request-ID": request_id}, timeout=5)
    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == request_id
    mine = []
    for _ in range(50):  # the container log lags the response by a few milliseconds
        mine = [line for line in stack.json_logs("app") if line.get("request_id") == request_id]
        if {"app.api", "gunicorn.access"} <= {line["logger"] for line in mine}:
            break
        time.sleep(0.1)
    assert {"app.api", "gunicorn.access"} <= {line["logger"] for line in mine}, mine
    access = next(line for line in mine if line["logger"] == "gunicorn.access")
    assert access["status"] == 201 and access["duration_ms"] > 0
