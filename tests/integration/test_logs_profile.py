"""The `logs` profile end to end: requests through Nginx become documents in Elasticsearch
(the app's lines and Nginx's access log, by request id), nothing is lost while Logstash is
stopped, and Kibana is up with its data view. Needs the Elastic images: where no registry is
reachable (this project's CI machine) it skips; `make test-e2e` runs it on any Docker host."""

import time
import uuid

import pytest
import requests
from support.docker import require_images
from support.stack import compose_stack

pytestmark = [pytest.mark.stack("logs"), pytest.mark.registry_image]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_images("PYTHON_IMAGE", "NGINX_IMAGE", "ELASTICSEARCH_IMAGE", "LOGSTASH_IMAGE", "KIBANA_IMAGE")
    workdir = tmp_path_factory.mktemp("logs")
    with compose_stack("logs", ["logs"], workdir, environment={"LOGSTASH_HOST": "logstash",
                                                               "NGINX_ACCESS_LOG_FILE": "on"}) as running:
        running.certs = workdir / "certs" / "tls.crt"
        env = dict(line.split("=", 1) for line in running.env_file.read_text().splitlines() if "=" in line)
        running.elastic = ("elastic", env["ELASTIC_PASSWORD"])
        yield running


def es(stack, path: str, **params) -> dict:
    """Query Elasticsearch from inside the compose network (it publishes no port)."""
    import json
    query = "&".join(f"{k}={v}" for k, v in params.items())
    out = stack.exec("elasticsearch", "curl", "-sS", "-u", ":".join(stack.elastic),
                     f"http://127.0.0.1:9200{path}?{query}")
    return json.loads(out.stdout)


def send(stack, ids):
    base = stack.url("nginx", 8443, "https")
    for request_id in ids:
        r = requests.post(base + "/api/items", json={"name": "tea", "price": 1}, verify=str(stack.certs),
                          headers={"X-Request-ID": request_id}, timeout=10)
        assert r.status_code == 201


def documents_for(stack, ids) -> dict[tuple[str, str], int]:
    es(stack, "/logs-flask-default/_refresh")
    found = es(stack, "/logs-flask-*/_search", size=10000, q="request_id:" + "(" + " OR ".join(ids) + ")")
    counts: dict[tuple[str, str], int] = {}
    for hit in found.get("hits", {}).get("hits", []):
        key = (hit["_source"]["request_id"], hit["_source"]["logger"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def wait_for_documents(stack, ids, timeout=120):
    # The app's own line and Nginx's access log line (Gunicorn's is not shipped by default).
    wanted = {(i, logger) for i in ids for logger in ("app.api", "nginx.access")}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = documents_for(stack, ids)
        if set(counts) >= wanted:
            assert set(counts.values()) == {1}, "duplicates in Elasticsearch"
            return counts
        time.sleep(2)
    raise AssertionError(f"missing after {timeout} s: {sorted(wanted - set(documents_for(stack, ids)))[:10]}")


def test_request_logs_reach_elasticsearch_by_request_id(stack):
    ids = [f"e2e-{uuid.uuid4().hex}" for _ in range(10)]
    send(stack, ids)
    wait_for_documents(stack, ids)


def test_nothing_is_lost_while_logstash_is_stopped(stack):
    stack.run("stop", "logstash")
    ids = [f"down-{uuid.uuid4().hex}" for _ in range(30)]
    send(stack, ids[:15])
    time.sleep(30)
    send(stack, ids[15:])
    stack.run("start", "logstash")
    wait_for_documents(stack, ids, timeout=240)


def test_kibana_is_available_with_the_data_view(stack):
    kibana = stack.url("kibana", 5601)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = requests.get(kibana + "/api/status", auth=stack.elastic, timeout=10)
        views = requests.get(kibana + "/api/data_views", auth=stack.elastic, timeout=10)
        if status.ok and views.ok and any(v["id"] == "logs-flask" for v in views.json()["data_view"]):
            assert status.json()["status"]["overall"]["level"] == "available"
            return
        time.sleep(5)
    raise AssertionError("Kibana is not available with the logs-flask data view")
