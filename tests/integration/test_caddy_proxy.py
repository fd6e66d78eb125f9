"""PROXY=caddy: Caddy in front of the app server, Gunicorn or uWSGI (both speak HTTP to Caddy;
compose/proxy-caddy.yaml), tested from the outside
through the published ports as test_proxy_profile.py tests Nginx: TLS from Caddy's internal CA,
HSTS and the security headers, request ids, static files, the prefix and JSON errors. Where
Caddy answers differently the README says so, and the test here says which."""

import json
import subprocess
import uuid

import pytest
import requests
from support.apps import DEMO, DEMO_UWSGI
from support.checks import assert_json_error
from support.docker import ROOT, require_images
from support.proxy_checks import (
    assert_no_path_traversal_under_static,
    assert_prefixed_links,
    assert_security_headers,
    assert_tls_1_1_refused,
)
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("proxy")
CADDY = ("compose/proxy-caddy.yaml",)
SERVERS = [DEMO, DEMO_UWSGI]


@pytest.fixture(scope="module", params=SERVERS, ids=lambda app: app.server)
def stack(request, tmp_path_factory):
    """One TLS stack with Caddy's own CA (the default); the test trusts that CA's root alone."""
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE")
    app = request.param
    workdir = tmp_path_factory.mktemp(f"caddy-{app.server}")
    with compose_stack(f"caddy-{app.server}", ["proxy"], workdir, extra_files=CADDY, CADDY_ACCESS_LOG_FILE="on",
                       **app.env()) as running:
        running.certs = workdir / "caddy-root.crt"
        running.certs.write_text(running.exec("caddy", "cat", "/data/caddy/pki/authorities/local/root.crt"))
        yield running


def https(stack, path, **kwargs):
    kwargs.setdefault("timeout", 10)
    return requests.request(kwargs.pop("method", "GET"), stack.url("caddy", 8443, "https") + path,  # noqa: S113
                            verify=str(stack.certs), **kwargs)


def app_saw(stack, request_id) -> list[dict]:
    return [line for line in stack.json_logs("app") if line.get("request_id") == request_id]


def caddy_logged(stack, request_id) -> list[dict]:
    """Caddy's access lines (stdout) whose response carried the request id."""
    return [line for line in stack.json_logs("caddy") if line.get("logger", "").startswith("http.log.access")
            and line.get("resp_headers", {}).get("X-Request-Id") == [request_id]]


def test_nginx_is_not_started(stack):
    ps = subprocess.run([*stack.compose.compose_command_property, "ps", "--services"], cwd=ROOT,
                        capture_output=True, text=True, check=True).stdout.split()
    assert "caddy" in ps and "nginx" not in ps and "nginx-exporter" not in ps


def test_tls_comes_from_caddys_internal_ca(stack):
    assert https(stack, "/api/hello").status_code == 200  # verified against that root alone
    with pytest.raises(requests.exceptions.SSLError):  # negative control: the system's CAs do not know it
        requests.get(stack.url("caddy", 8443, "https") + "/api/hello", timeout=10)


def test_a_well_formed_request_id_reaches_the_app_and_comes_back(stack):
    request_id = f"caddy-{uuid.uuid4().hex}"
    response = https(stack, "/api/hello", headers={"X-Request-ID": request_id})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == request_id
    assert wait_until(lambda: app_saw(stack, request_id), 5, "the app's line with the id")
    assert wait_until(lambda: caddy_logged(stack, request_id), 5, "Caddy's access line with the id")


@pytest.mark.parametrize("sent", ["not valid!", "x" * 20000])
def test_a_malformed_request_id_is_replaced(stack, sent):
    """Nginx answers the 20,000-byte one with a 400; Caddy replaces it like any bad id."""
    response = https(stack, "/api/hello", headers={"X-Request-ID": sent})
    generated = response.headers["X-Request-ID"]
    assert response.status_code == 200 and generated != sent and len(generated) == 36  # a UUID
    assert wait_until(lambda: app_saw(stack, generated), 5, "the app's line with Caddy's id")


def test_links_are_https_with_the_public_host(stack):
    item = https(stack, "/api/items", method="POST", json={"name": "tea", "price": 1}).json()
    port = stack.url("caddy", 8443).rsplit(":", 1)[1]
    assert item["url"].startswith(f"https://127.0.0.1:{port}/api/items/")


def test_http_redirects_to_https_on_the_public_port(stack):
    response = requests.get(stack.url("caddy", 8080) + "/api/items?limit=5", allow_redirects=False, timeout=10)
    port = stack.url("caddy", 8443).rsplit(":", 1)[1]
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://127.0.0.1:{port}/api/items?limit=5"


def test_security_headers_and_hsts(stack):
    for response in (https(stack, "/"), https(stack, "/nowhere")):
        assert_security_headers(response.headers)
        assert "Server" not in response.headers
        assert "Alt-Svc" not in response.headers  # no HTTP/3: its UDP port is not published


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # we ask for old TLS on purpose
def test_tls_1_1_is_refused(stack):
    host, port = stack.url("caddy", 8443).split("//")[1].split(":")
    assert_tls_1_1_refused(host, int(port))


def test_big_body_is_a_json_413_that_never_reaches_the_app(stack):
    request_id = f"big-{uuid.uuid4().hex}"
    response = https(stack, "/api/items", method="POST", data=b"x" * (2 * 1024 * 1024),
                     headers={"Content-Type": "application/json", "X-Request-ID": request_id})
    assert "limit 1m" in assert_json_error(response, 413)["error"]
    wait_until(lambda: caddy_logged(stack, request_id), 5, "Caddy's access line")
    assert not app_saw(stack, request_id)


def test_a_chunked_body_over_the_limit_reaches_the_app_cut_at_the_limit(stack):
    """The README's difference: Nginx reads the whole body first and answers 413; Caddy 2.6
    streams it and cuts it at the limit, so the app sees the request and refuses the stump."""
    request_id = f"chunked-{uuid.uuid4().hex}"
    response = https(stack, "/api/items", method="POST", data=iter([b"x" * (2 * 1024 * 1024)]),
                     headers={"Content-Type": "application/json", "X-Request-ID": request_id})
    assert response.status_code in (400, 413) and response.json()["request_id"] == request_id


def test_static_files_come_from_caddy_with_cache_headers(stack):
    request_id = f"static-{uuid.uuid4().hex}"
    response = https(stack, "/static/style.css", headers={"X-Request-ID": request_id, "Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "max-age=604800" in response.headers["Cache-Control"]
    assert response.headers.get("Content-Encoding") == "gzip" or len(response.content) < 512
    assert wait_until(lambda: caddy_logged(stack, request_id), 5, "Caddy's access line")
    assert not app_saw(stack, request_id)


def test_path_traversal_under_static_is_not_served(stack):
    assert_no_path_traversal_under_static(lambda path: https(stack, path))


def test_unknown_host_is_a_json_421(stack):
    body = assert_json_error(https(stack, "/api/hello", headers={"Host": "evil.example.com"}), 421)
    assert not app_saw(stack, body["request_id"])


def test_metrics_and_health_are_internal(stack):
    assert_json_error(https(stack, "/metrics"), 404)
    with pytest.raises(Exception, match="publisher"):
        stack.compose.get_service_port("caddy", 8081)
    metrics = stack.exec("caddy", "curl", "-fsS", "http://127.0.0.1:8081/metrics")
    assert "caddy_http_requests_total" in metrics


def test_access_lines_go_to_the_file_logstash_tails(stack):
    request_id = f"file-{uuid.uuid4().hex}"
    https(stack, "/api/hello", headers={"X-Request-ID": request_id})

    def in_file():
        text = stack.exec("caddy", "cat", "/var/log/caddy/flaskobs/caddy-access.json")
        return [json.loads(line) for line in text.splitlines() if request_id in line]
    line = wait_until(in_file, 10, "the line in the access file")[0]
    assert line["status"] == 200 and line["resp_headers"]["X-Request-Id"] == [request_id]


def test_the_private_key_and_data_are_caddys_alone(stack):
    """Caddy runs as its own user with no capabilities; only the entry point was root."""
    assert stack.exec("caddy", "cat", "/proc/1/comm").strip() == "caddy"
    status = stack.exec("caddy", "cat", "/proc/1/status")
    uid = stack.exec("caddy", "id", "-u", "caddy").strip()
    assert f"Uid:\t{uid}\t" in status and "CapEff:\t0000000000000000" in status


def test_app_down_gives_a_json_502(stack):
    """Last in the module: it stops the app container."""
    stack.service("stop", "app")
    try:
        body = assert_json_error(https(stack, "/api/hello"), 502)
        assert body["error"] == "the app is not answering"
    finally:
        stack.service("start", "app")
        wait_until(lambda: stack.health("app") == "healthy", 60, "the app healthy again, for the tests after")


@pytest.fixture(scope="module", params=SERVERS, ids=lambda app: app.server)
def prefixed(request, tmp_path_factory):
    """Plain HTTP under /shop, no APP_STATIC_DIR (the app serves its static files)."""
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE")
    app = request.param
    with compose_stack(f"caddy-prefix-{app.server}", ["proxy"], tmp_path_factory.mktemp(f"caddy-prefix-{app.server}"),
                       extra_files=CADDY, TLS="off", APP_URL_PREFIX="/shop",
                       **{**app.env(), "APP_STATIC_DIR": ""}) as running:
        yield running


def test_path_prefix_links_are_correct(prefixed):
    assert_prefixed_links(prefixed.url("caddy", 8080))
    assert_json_error(requests.get(prefixed.url("caddy", 8080) + "/api/hello", timeout=10), 404)
