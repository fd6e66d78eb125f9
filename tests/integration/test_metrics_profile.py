"""The `metrics` profile: requests through Nginx become exact counts in Prometheus, every
target is up, and every dashboard query returns data from this live Prometheus."""

import json
import time

import pytest
import requests
from support.docker import ROOT, image_present, image_vars, require_images
from support.stack import compose_stack

pytestmark = pytest.mark.stack("metrics")
N = 37  # requests sent through Nginx; below the default burst, so none is rate limited


def services_here() -> list[str]:
    base = ["app", "nginx", "prometheus", "nginx-exporter"]
    return [*base, "grafana"] if image_present(image_vars().get("GRAFANA_IMAGE", "")) else base


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One metrics stack for the module (Grafana too where its image exists)."""
    require_images("PYTHON_IMAGE", "NGINX_IMAGE", "PROMETHEUS_IMAGE")
    workdir = tmp_path_factory.mktemp("metrics")
    with compose_stack("metrics", ["metrics"], workdir, services=services_here()) as running:
        running.certs = workdir / "certs" / "tls.crt"
        running.prometheus = running.url("prometheus", 9090)
        yield running


def query(stack, expr: str) -> list[dict]:
    response = requests.get(stack.prometheus + "/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}; last: {last}")


@pytest.fixture(scope="module")
def traffic(stack):
    """N requests through Nginx's published HTTPS port, mixed routes and statuses."""
    base = stack.url("nginx", 8443, "https")
    statuses = []
    tls = {"verify": str(stack.certs), "timeout": 10}  # per request: REQUESTS_CA_BUNDLE beats Session.verify
    with requests.Session() as session:
        for i in range(N):
            if i % 3 == 0:
                r = session.post(base + "/api/items", json={"name": f"item {i}", "price": i}, **tls)
            elif i % 3 == 1:
                r = session.get(base + "/api/items", **tls)
            else:
                r = session.get(base + f"/api/items/{10_000 + i}", **tls)
            statuses.append(r.status_code)
    assert sorted(set(statuses)) == [200, 201, 404]
    return N


def test_targets_are_up(stack):
    def all_up():
        targets = requests.get(stack.prometheus + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return health if health == {"flask": "up", "nginx": "up", "prometheus": "up"} else None
    wait_until(all_up, 60, "the flask, nginx and prometheus targets to be up")
    assert query(stack, "nginx_up")[0]["value"][1] == "1"


def test_request_total_in_prometheus_equals_requests_sent(stack, traffic):
    def exact():
        result = query(stack, "sum(flask_http_request_total)")
        return result and float(result[0]["value"][1]) == traffic
    wait_until(exact, 60, f"sum(flask_http_request_total) == {traffic}")
    by_route = {r["metric"]["url_rule"]: float(r["value"][1]) for r in
                query(stack, "sum by (url_rule) (flask_http_request_duration_seconds_count)")}
    assert by_route == {"/api/items": 25.0, "/api/items/<int:item_id>": 12.0}  # 13 POST + 12 GET; 12 GET by id
    assert sum(by_route.values()) == traffic


def test_rules_are_loaded(stack):
    groups = requests.get(stack.prometheus + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {g["name"] for g in groups} == {"flask.recording", "flask.alerts", "nginx.alerts", "logs.alerts"}
    for group in groups:
        for rule in group["rules"]:
            assert rule["health"] in ("ok", "unknown"), rule


def dashboard_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((ROOT / "grafana/dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == "prometheus":
                    found.append((path.name, panel["title"], target["expr"]))
    return found


def test_every_dashboard_query_returns_data(stack, traffic):
    # Three scrapes after the traffic, so every rate() has samples in its window.
    wait_until(lambda: float(query(stack, 'count_over_time(up{job="flask"}[1m])')[0]["value"][1]) >= 4,
               90, "four scrapes of the app")
    empty = []
    for name, title, expr in dashboard_queries():
        if not query(stack, expr.replace("$__rate_interval", "1m")):
            empty.append(f"{name} / {title}: {expr}")
    assert not empty, "queries that return no data:\n" + "\n".join(empty)


@pytest.mark.registry_image
def test_grafana_lists_dashboards_and_healthy_prometheus(stack):
    require_images("GRAFANA_IMAGE")
    grafana = stack.url("grafana", 3000)
    env = dict(line.split("=", 1) for line in (stack.env_file.read_text().splitlines()) if "=" in line)
    auth = (env.get("GRAFANA_ADMIN_USER", "admin"), env["GRAFANA_ADMIN_PASSWORD"])
    health = requests.get(grafana + "/api/datasources/uid/prometheus/health", auth=auth, timeout=10).json()
    assert health["status"] == "OK"
    found = requests.get(grafana + "/api/search", params={"tag": "flaskobs"}, auth=auth, timeout=10).json()
    assert {d["uid"] for d in found} == {"flask-service", "gunicorn-workers", "nginx", "flask-logs"}
    assert requests.get(grafana + "/api/search", timeout=10).status_code == 401  # no anonymous access
