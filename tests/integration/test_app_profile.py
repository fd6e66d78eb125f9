"""The `app` profile: the app container alone, built from APP_DIR and started for real, for the
demo and for the bookshelf example."""

import re
import uuid

import pytest
import requests
from support.apps import APPS, DEMO_UWSGI, AppUnderTest
from support.docker import require_images
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("app")


# The bookshelf runs on gevent workers: the image's gevent, with every check below, at no extra stack.
# The demo runs under uWSGI too (the image's other server), speaking HTTP on the published port.
WORKER_CLASS = {"demo": "sync", "bookshelf": "gevent", "demo-uwsgi": ""}


@pytest.fixture(scope="module", params=[*APPS, DEMO_UWSGI], ids=lambda a: a.label)
def deployed(request, tmp_path_factory):
    """One app-profile stack per app for the module: building and starting it is the slow part."""
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE")
    app: AppUnderTest = request.param
    with compose_stack(f"app-{app.label}", ["app"], tmp_path_factory.mktemp("app"),
                       extra_files=("compose/publish-app.yaml",), **app.env(),
                       GUNICORN_WORKER_CLASS=WORKER_CLASS[app.label]) as running:
        yield app, running


def test_healthz_answers_through_the_published_port(deployed):
    _, stack = deployed
    response = requests.get(stack.url("app", 8000) + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert stack.compose.get_service_host("app", 8000) == "127.0.0.1"  # loopback only


def test_container_is_healthy_and_not_root(deployed):
    _, stack = deployed
    assert stack.health("app") == "healthy"
    assert stack.exec("app", "id", "-u").strip() == "10001"


def test_the_image_brings_uwsgi_and_parses_http_in_python(deployed):
    """APP_SERVER=uwsgi needs nothing more: uWSGI links (no library missing in the runtime image).
    Gunicorn's `auto` parser is its Python one here: gunicorn_h1c is left out (README)."""
    _, stack = deployed
    assert stack.exec("app", "uwsgi", "--version").strip() == "2.0.31"
    assert "not found" not in stack.exec("app", "sh", "-c", "ldd /opt/venv/bin/uwsgi || true")
    found = "import importlib.util; print(importlib.util.find_spec('gunicorn_h1c') is not None)"
    assert stack.exec("app", "python", "-c", found).strip() == "False"


def test_readyz_reports_the_database_and_nothing_is_shipped(deployed):
    _, stack = deployed
    body = requests.get(stack.url("app", 8000) + "/readyz", timeout=5).json()
    assert body == {"status": "ready", "checks": {"database": "ok"}}  # no log queue: not shipping
    assert stack.exec("app", "cat", "/run/deployment/logstash-host") == ""  # the app profile has no Logstash


def test_metrics_port_answers_with_request_counts(deployed):
    app, stack = deployed
    rule, path = app.probe
    for _ in range(3):
        assert requests.get(stack.url("app", 8000) + path, timeout=5).status_code == 200
    text = requests.get(stack.url("app", 9101) + "/metrics", timeout=5).text
    counted = (r'flask_http_request_duration_seconds_count\{method="GET",status="200",'
               rf'url_rule="{re.escape(rule)}"\}} 3\.0')
    assert re.search(counted, text), text[:2000]
    assert re.search(r"^gunicorn_workers 2\.0$", text, re.M)


def test_request_id_appears_in_the_json_log(deployed):
    app, stack = deployed
    request_id = f"it-{uuid.uuid4().hex}"
    assert app.create(stack.url("app", 8000), request_id) == app.created_status

    def mine() -> list[dict]:
        found = [line for line in stack.json_logs("app") if line.get("request_id") == request_id]
        return found if {app.created_logger, "gunicorn.access"} <= {line["logger"] for line in found} else []
    lines = wait_until(mine, 5, f"{app.created_logger} and gunicorn.access lines of {request_id}")
    access = next(line for line in lines if line["logger"] == "gunicorn.access")
    assert access["status"] == app.created_status and access["duration_ms"] > 0


def test_the_servers_own_lines_are_json_too(deployed):
    app, stack = deployed
    lines = stack.json_logs("app")
    if app.server == "uwsgi":
        own = [line for line in lines if line.get("logger") == "uwsgi"]
        assert any(line["message"].startswith("spawned uWSGI worker 2") for line in own), own[:5]
    else:
        booting = [line for line in lines if line.get("logger") == "gunicorn.error"]
        assert any(line["message"].startswith("Booting worker with pid") for line in booting), booting[:5]
        assert any(line["message"] == f"Using worker: {WORKER_CLASS[app.label]}" for line in booting), booting[:5]
    # uWSGI prints two lines while it reads its options, before its log encoder exists (README).
    others = [line for line in stack.logs("app").splitlines()
              if line.strip() and not line.startswith("{") and not line.startswith("[log-encoder] registered")]
    assert not others, others[:5]
    assert not [line for line in stack.logs("app").splitlines() if "MonkeyPatchWarning" in line]
