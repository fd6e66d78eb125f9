"""The `metrics` profile: requests through Nginx become exact counts in Prometheus and log lines
carrying their id, every target is up, and every dashboard query returns data from this live
Prometheus: for the demo and for the bookshelf example."""

import json
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from support.apps import APPS, DEMO_UWSGI, AppUnderTest
from support.docker import ROOT, image_present, image_vars, require_images
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("metrics")
N = 37  # requests sent through Nginx; below the default burst, so none is rate limited


def services_here() -> list[str]:
    base = ["app", "nginx", "prometheus", "alertmanager", "nginx-exporter"]
    return [*base, "grafana"] if image_present(image_vars().get("GRAFANA_IMAGE", "")) else base


@pytest.fixture(scope="module", params=[*APPS, DEMO_UWSGI], ids=lambda a: a.label)
def stack(request, tmp_path_factory):
    """One metrics stack per app for the module (Grafana too where its image exists), and the demo
    under uWSGI: its worker series come from another process (uwsgi_metrics.py), same names."""
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE", "NGINX_IMAGE", "PROMETHEUS_IMAGE", "ALERTMANAGER_IMAGE")
    app: AppUnderTest = request.param
    workdir = tmp_path_factory.mktemp("metrics")
    with compose_stack(f"metrics-{app.label}", ["metrics"], workdir, services=services_here(), **app.env()) as running:
        running.app = app
        running.certs = workdir / "certs" / "tls.crt"
        running.prometheus = running.url("prometheus", 9090)
        yield running


def query(stack, expr: str) -> list[dict]:
    response = requests.get(stack.prometheus + "/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


@pytest.fixture(scope="module")
def traffic(stack):
    """N requests through Nginx's published HTTPS port: a page or endpoint that answers 200, and
    one that reads the database and answers 404."""
    base = stack.url("nginx", 8443, "https")
    statuses = []
    tls = {"verify": str(stack.certs), "timeout": 10}  # per request: REQUESTS_CA_BUNDLE beats Session.verify
    with requests.Session() as session:
        for i in range(N):
            _, path = stack.app.probe if i % 3 else stack.app.missing
            statuses.append(session.get(base + path, **tls).status_code)
    assert sorted(set(statuses)) == [200, 404]
    return N


def test_targets_are_up(stack):
    def all_up():
        targets = requests.get(stack.prometheus + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}
        expected = {("flask", "app:9101"), ("nginx", "nginx-exporter:9113"), ("nginx", "nginx:8081"),
                    ("alertmanager", "alertmanager:9093"), ("prometheus", "localhost:9090"), ("tls", "nginx:8443")}
        return health if set(health) == expected and set(health.values()) == {"up"} else None
    wait_until(all_up, 60, "every target to be up", 1)
    assert query(stack, "nginx_up")[0]["value"][1] == "1"
    assert query(stack, 'probe_success{job="tls"}')[0]["value"][1] == "1"


def not_after(cert: Path) -> float:
    out = subprocess.run(["openssl", "x509", "-enddate", "-noout", "-in", str(cert)], capture_output=True, text=True,
                         check=True).stdout
    return ssl.cert_time_to_seconds(out.strip().removeprefix("notAfter="))


def expiry_alerts(stack) -> list[dict]:
    return query(stack, 'ALERTS{alertname="TlsCertificateExpiresSoon",alertstate="firing"}')


def test_the_served_certificate_is_watched_and_a_near_end_fires(stack):
    """The probe reads the certificate Nginx serves; one with 5 days left, loaded by the reload a
    renewal does, makes TlsCertificateExpiresSoon fire as a warning; the next renewal ends it."""
    def probed() -> float | None:
        found = query(stack, 'probe_ssl_earliest_cert_expiry{job="tls"}')
        return float(found[0]["value"][1]) if found else None
    wait_until(lambda: probed() == not_after(stack.certs), 60, "the served certificate's end, probed", 1)
    assert not expiry_alerts(stack)  # 825 days left

    saved = {name: (stack.certs.parent / name).read_bytes() for name in ("tls.crt", "tls.key")}
    short = stack.certs.parent / "short"
    short.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "5", "-subj", "/CN=localhost",
                    "-keyout", str(short / "tls.key"), "-out", str(short / "tls.crt")], check=True, capture_output=True)
    try:
        for name in saved:
            (stack.certs.parent / name).write_bytes((short / name).read_bytes())
        stack.exec("nginx", "nginx", "-s", "reload")
        firing = wait_until(lambda: expiry_alerts(stack), 90, "TlsCertificateExpiresSoon firing", 2)
        assert [a["metric"]["severity"] for a in firing] == ["warning"]  # 5 days: not yet critical
        assert probed() == not_after(short / "tls.crt")
    finally:
        for name, data in saved.items():
            (stack.certs.parent / name).write_bytes(data)
        stack.exec("nginx", "nginx", "-s", "reload")
    wait_until(lambda: not expiry_alerts(stack), 90, "the alert to end after the renewal", 2)


def test_nginx_counts_its_answers_by_status(stack, traffic):
    """Nginx's own counts (exact per request: tests/integration/test_proxy_profile.py) reach Prometheus."""
    def counted() -> float:
        found = query(stack, 'sum(nginx_http_responses_total{code=~"200|404"})')
        return float(found[0]["value"][1]) if found else 0.0
    wait_until(lambda: counted() >= traffic, 60, f"at least the {traffic} answers of the traffic", 1)


def test_request_total_in_prometheus_equals_requests_sent(stack, traffic):
    def exact():
        result = query(stack, "sum(flask_http_request_total)")
        return result and float(result[0]["value"][1]) == traffic
    wait_until(exact, 60, f"sum(flask_http_request_total) == {traffic}", 1)
    by_route = {r["metric"]["url_rule"]: float(r["value"][1]) for r in
                query(stack, "sum by (url_rule) (flask_http_request_duration_seconds_count)")}
    assert by_route == {stack.app.probe[0]: 24.0, stack.app.missing[0]: 13.0}  # i % 3: 24 probes, 13 misses
    assert sum(by_route.values()) == traffic


def test_request_through_nginx_keeps_its_id_end_to_end(stack):
    """One id on the response, on the app's access line and on Nginx's access line."""
    request_id = f"px-{uuid.uuid4().hex}"
    response = requests.get(stack.url("nginx", 8443, "https") + stack.app.probe[1], verify=str(stack.certs),
                            headers={"X-Request-ID": request_id}, timeout=10)
    assert response.status_code == 200 and response.headers["X-Request-ID"] == request_id

    def lines(service: str) -> list[dict]:
        return [line for line in stack.json_logs(service) if line.get("request_id") == request_id]
    app_line = wait_until(lambda: lines("app"), 5, "the app's access line")[0]
    assert app_line["logger"] == "gunicorn.access" and app_line["status"] == 200
    nginx_line = wait_until(lambda: lines("nginx"), 5, "Nginx's access line")[0]
    assert nginx_line["status"] == 200 and nginx_line["upstream_status"] == "200"
    assert nginx_line["upstream_addr"] == "unix:/srv/app-socket/gunicorn.sock"


def test_nginx_speaks_the_apps_protocol(stack):
    """APP_SERVER alone picks it on both sides: uwsgi_pass to uWSGI, proxy_pass to Gunicorn."""
    config = stack.exec("nginx", "nginx", "-T")
    assert ("uwsgi_pass flask_app;" in config) == (stack.app.server == "uwsgi")
    assert ("proxy_pass http://flask_app/;" in config) == (stack.app.server == "gunicorn")
    assert stack.exec("app", "printenv", "APP_SERVER").strip() == stack.app.server


def test_the_apps_memory_and_its_limit_are_exported(stack):
    """From the container's cgroup, what AppMemoryNearLimit compares: the limit is APP_MEM_LIMIT."""
    def both():
        limit = query(stack, 'app_container_memory_limit_bytes{job="flask"}')
        used = query(stack, 'app_container_memory_working_set_bytes{job="flask"}')
        return (float(limit[0]["value"][1]), float(used[0]["value"][1])) if limit and used else None
    limit, used = wait_until(both, 60, "the app's memory and limit in Prometheus", 1)
    assert limit == 512 * 1024 * 1024 and 10 * 1024 * 1024 < used < limit


def test_rules_are_loaded(stack):
    groups = requests.get(stack.prometheus + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {g["name"] for g in groups} == {"flask.recording", "flask.alerts", "nginx.alerts", "logs.alerts",
                                          "alertmanager.alerts", "prometheus.alerts", "slo.recording", "slo.alerts"}
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
    # Three scrapes of the traffic's series in the last minute, so every rate() has samples in its
    # window (up's samples are not enough: the series of the traffic appear at its first scrape).
    def scrapes() -> float:
        found = query(stack, "min(count_over_time(flask_http_request_duration_seconds_count[1m]))")
        return float(found[0]["value"][1]) if found else 0.0
    wait_until(lambda: scrapes() >= 3, 90, "three scrapes of the traffic's series", 1)
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


def test_no_one_can_stop_prometheus_over_http_and_sighup_reloads_it(stack):
    """`--web.enable-lifecycle` took `POST /-/quit` from any Origin; a SIGHUP (`make reload`) reloads."""
    quit_ = requests.post(stack.prometheus + "/-/quit", headers={"Origin": "http://evil.example"}, timeout=10)
    assert quit_.status_code == 403 and "not enabled" in quit_.text.lower()
    assert requests.get(stack.prometheus + "/-/ready", timeout=10).status_code == 200

    def last_reload() -> float:
        return float(query(stack, "prometheus_config_last_reload_success_timestamp_seconds")[0]["value"][1])
    before = last_reload()
    subprocess.run(["docker", "kill", "-s", "HUP", stack.compose.get_container("prometheus").ID], check=True,
                   capture_output=True)
    wait_until(lambda: last_reload() > before, 30, "Prometheus to reload its configuration")
