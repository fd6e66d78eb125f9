"""The `full` profile's log path end to end: requests through Nginx become documents in
Elasticsearch (the app's lines and Nginx's access log, by request id), nothing is lost while
Logstash is stopped, Kibana is available with its data view, and Grafana's Logs dashboard query
finds a request's lines through the grafana_reader user. Needs the Elastic and Grafana images:
where no registry is reachable (this project's CI machine) it skips; `make test-e2e` runs it
on any Docker host."""

import json
import time
import uuid

import pytest
import requests
from support.apps import DEMO
from support.docker import ROOT, require_images
from support.elastic import es_url
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = [pytest.mark.stack("full"), pytest.mark.registry_image]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE", "NGINX_IMAGE", "ELASTICSEARCH_IMAGE", "LOGSTASH_IMAGE",
                   "KIBANA_IMAGE", "PROMETHEUS_IMAGE", "GRAFANA_IMAGE")
    workdir = tmp_path_factory.mktemp("full")
    # No LOGSTASH_HOST here: the profile itself switches shipping on.
    with compose_stack("full", ["full"], workdir, **DEMO.env()) as running:
        running.certs = workdir / "certs" / "tls.crt"
        running.elastic = ("elastic", running.env["ELASTIC_PASSWORD"])
        yield running


def es(stack, path: str, **params) -> dict:
    """Query Elasticsearch from inside the compose network (it publishes no port)."""
    out = stack.exec("elasticsearch", "curl", "-sS", "-u", ":".join(stack.elastic), es_url(path, **params))
    return json.loads(out)


def send(stack, ids):
    base = stack.url("nginx", 8443, "https")
    for request_id in ids:
        r = requests.post(base + "/api/items", json={"name": "tea", "price": 1}, verify=str(stack.certs),
                          headers={"X-Request-ID": request_id}, timeout=10)
        assert r.status_code == 201


def documents_for(stack, ids) -> dict[tuple[str, str], int]:
    es(stack, "/logs-flask-default/_refresh")
    found = es(stack, "/logs-flask-*/_search", size=10000, q="request_id:(" + " OR ".join(f'"{i}"' for i in ids) + ")")
    counts: dict[tuple[str, str], int] = {}
    for hit in found.get("hits", {}).get("hits", []):
        key = (hit["_source"]["request_id"], hit["_source"]["logger"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def wait_for_documents(stack, ids, timeout=120):
    # The app's own line and Nginx's access log line (Gunicorn's is not shipped by default).
    wanted = {(i, logger) for i in ids for logger in ("demo.api", "nginx.access")}
    counts = wait_until(lambda: (c := documents_for(stack, ids)) and set(c) >= wanted and c, timeout,
                        f"{len(wanted)} documents in Elasticsearch", 2)
    assert set(counts.values()) == {1}, "duplicates in Elasticsearch"
    return counts


def test_request_logs_reach_elasticsearch_by_request_id(stack):
    ids = [f"e2e-{uuid.uuid4().hex}" for _ in range(10)]
    send(stack, ids)
    wait_for_documents(stack, ids)


def test_nothing_is_lost_while_logstash_is_stopped(stack):
    stack.service("stop", "logstash")
    ids = [f"down-{uuid.uuid4().hex}" for _ in range(30)]
    send(stack, ids[:15])
    time.sleep(30)
    send(stack, ids[15:])
    stack.service("start", "logstash")
    wait_for_documents(stack, ids, timeout=240)


def test_kibana_is_available_with_the_data_view(stack):
    kibana = stack.url("kibana", 5601)

    def ready():
        # `degraded` answers 200 too: wait for `available` itself.
        status = requests.get(kibana + "/api/status", auth=stack.elastic, timeout=10)
        views = requests.get(kibana + "/api/data_views", auth=stack.elastic, timeout=10)
        return (status.ok and status.json()["status"]["overall"]["level"] == "available"
                and views.ok and any(v["id"] == "logs-flask" for v in views.json()["data_view"]))
    wait_until(ready, 180, "Kibana available with the logs-flask data view", 5)


def test_grafanas_logs_query_finds_a_request_through_its_reader_user(stack):
    """The Logs dashboard's own query, sent through Grafana's API to the provisioned datasource
    (which reads Elasticsearch as grafana_reader), finds the lines of a request sent through Nginx."""
    request_id = f"grafana-{uuid.uuid4().hex}"
    send(stack, [request_id])
    wait_for_documents(stack, [request_id])
    logs = json.loads((ROOT / "grafana/dashboards/logs.json").read_text())
    target = next(p for p in logs["panels"] if p["title"].startswith("Lines of the request id"))["targets"][0]
    query = {**target, "query": target["query"].replace("${request_id:raw}", request_id).replace("${trace_id:raw}", "")}
    auth = (stack.env.get("GRAFANA_ADMIN_USER", "admin"), stack.env["GRAFANA_ADMIN_PASSWORD"])
    response = requests.post(stack.url("grafana", 3000) + "/api/ds/query", auth=auth, timeout=30,
                             json={"queries": [query], "from": "now-1h", "to": "now"})
    assert response.ok, response.text
    frames = response.json()["results"]["A"]["frames"]
    assert request_id in json.dumps(frames)
    assert sum(len(f["data"]["values"][0]) for f in frames if f["data"]["values"]) >= 2  # app and Nginx


def test_an_exemplar_leads_to_its_requests_logs_through_grafana(stack):
    """The click path from a latency exemplar: Prometheus holds the request's id in a bucket of
    the latency panel's series; the datasource Grafana provisioned links that label to the
    Elasticsearch datasource (queried with the raw id, as Grafana's internal link does), to the
    Logs dashboard and to Kibana; the linked query finds the request's lines."""
    request_id = f"exemplar-{uuid.uuid4().hex}"
    send(stack, [request_id])
    wait_for_documents(stack, [request_id])
    prometheus = stack.url("prometheus", 9090)

    def held() -> bool:
        body = requests.get(prometheus + "/api/v1/query_exemplars", timeout=10, params={
            "query": "flask_http_request_duration_seconds_bucket", "start": time.time() - 600,
            "end": time.time() + 60}).json()
        return any(e["labels"].get("request_id") == request_id for s in body["data"] for e in s["exemplars"])
    wait_until(held, 90, "the request's exemplar in Prometheus", 2)
    auth = (stack.env.get("GRAFANA_ADMIN_USER", "admin"), stack.env["GRAFANA_ADMIN_PASSWORD"])
    grafana = stack.url("grafana", 3000)
    datasource = requests.get(grafana + "/api/datasources/uid/prometheus", auth=auth, timeout=10).json()
    links = datasource["jsonData"]["exemplarTraceIdDestinations"]
    assert {d["name"] for d in links} == {"request_id"}
    internal = next(d for d in links if d.get("datasourceUid"))
    assert internal["datasourceUid"] == "elasticsearch-logs"
    urls = [d["url"] for d in links if d.get("url")]
    assert any(u.startswith("/d/flask-logs/") and "var-request_id=${__value.raw}" in u for u in urls), urls
    assert any(u.startswith("http://localhost:") and "/app/discover#/" in u and "${__value.raw}" in u for u in urls)
    # What the internal link runs: the exemplar's raw value as the Elasticsearch query.
    query = {"refId": "A", "datasource": {"type": "elasticsearch", "uid": "elasticsearch-logs"},
             "query": request_id, "metrics": [{"id": "1", "type": "logs"}], "bucketAggs": [],
             "timeField": "@timestamp"}
    response = requests.post(grafana + "/api/ds/query", auth=auth, timeout=30,
                             json={"queries": [query], "from": "now-1h", "to": "now"})
    assert response.ok, response.text
    assert request_id in json.dumps(response.json()["results"]["A"]["frames"])
