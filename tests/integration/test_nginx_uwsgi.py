"""Our Nginx (its image, templates and render.sh) in front of real uWSGI over the uwsgi protocol
(APP_PROTOCOL=uwsgi): Nginx's `uwsgi_pass` to the app's Unix socket, shared through a mounted
folder as Compose shares it. The app sees what it sees behind proxy_pass to Gunicorn: the
client's address (not one the client made up), the request id, the path without the prefix;
Nginx's JSON answers (413, 502) stay its own; every request is counted once."""

import json
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import requests
from support.docker import image_vars, nginx_run, require_images
from support.uwsgi import Uwsgi
from support.waiting import wait_until

pytestmark = [pytest.mark.stack("proxy"),
              pytest.mark.skipif(not os.access(Path(os.sys.executable).with_name("uwsgi"), os.X_OK),
                                 reason="uWSGI is not installed beside this Python (requirements-dev.txt pins it)")]

HELLO = r'flask_http_request_total\{method="GET",status="200"\}'


@pytest.fixture
def stack(tmp_path):
    """uWSGI on a socket in a folder Nginx's user can reach, and Nginx on a published port."""
    require_images("NGINX_IMAGE")
    shared = Path(tempfile.mkdtemp(prefix="flaskobs-uwsgi-"))
    shared.chmod(0o755)  # Nginx's worker is another user; the socket itself is 0666
    # One trusted hop, as compose.yaml sets it for the app behind Nginx.
    server = Uwsgi(tmp_path, GUNICORN_WORKERS=2, APP_PROTOCOL="uwsgi", GUNICORN_BIND=f"unix:{shared}/app.sock",
                   PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, PROXY_FIX_X_HOST=1, PROXY_FIX_X_PREFIX=1)
    name = f"flaskobs-uwsgi-nginx-{uuid.uuid4().hex[:8]}"
    try:
        server.start()  # answering over the uwsgi protocol on its socket, as the health check asks
        subprocess.run(nginx_run(image_vars()["NGINX_IMAGE"], "-d", "--name", name, "-p", "127.0.0.1::8080",
                                 "-v", f"{shared}:/srv/app-socket",
                                 env={"TLS": "off", "SERVER_NAME": "127.0.0.1", "APP_SERVER": "uwsgi",
                                      "APP_PROTOCOL": "uwsgi", "APP_UPSTREAM": "unix:/srv/app-socket/app.sock",
                                      "APP_URL_PREFIX": "/shop",
                                      "CLIENT_MAX_BODY_SIZE": "1k", "RATE_LIMIT": "10000r/s"}),
                       check=True, capture_output=True, timeout=60)
        port = subprocess.run(["docker", "port", name, "8080"], capture_output=True, text=True,
                              check=True).stdout.split(":")[-1].strip()
        url = f"http://127.0.0.1:{port}/shop"

        def answers() -> bool:
            try:
                return requests.get(url + "/healthz", timeout=2).status_code == 200 and bool(server.scrape())
            except requests.RequestException:
                return False
        try:
            wait_until(answers, 30, "uWSGI to answer through Nginx")
        except AssertionError as exc:
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr[-2000:]
            raise AssertionError(f"{exc}\n{logs}\n{server.output()[-2000:]}") from None
        yield server, url
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
        if server.proc:
            server.stop()


def app_lines(server, request_id: str) -> list[dict]:
    return [json.loads(line) for line in server.output().splitlines()
            if line.startswith("{") and request_id in line]


def test_requests_reach_uwsgi_as_they_reach_gunicorn(stack):
    server, url = stack
    before = server.value(HELLO)
    ids = [f"nu-{uuid.uuid4().hex}" for _ in range(5)]
    for request_id in ids:
        response = requests.get(url + "/hello", headers={"X-Request-ID": request_id, "X-Forwarded-For": "6.6.6.6"},
                                timeout=10)
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == request_id
    wait_until(lambda: server.value(HELLO) == before + len(ids), 5, "each request counted once", 0.2)
    wait_until(lambda: all(app_lines(server, i) for i in ids), 5, "the app's lines for each request id")
    access = next(line for line in app_lines(server, ids[0]) if line["logger"] == "gunicorn.access")
    assert access["path"] == "/hello"  # the prefix is Nginx's, stripped as proxy_pass strips it
    assert access["remote_addr"] not in (None, "", "6.6.6.6"), access  # the client Nginx saw
    assert access["forwarded_for"] != "6.6.6.6"


def test_the_apps_links_carry_the_prefix_and_the_public_host(stack):
    _server, url = stack
    me = requests.get(url + "/whoami", headers={"Host": "127.0.0.1", "X-Forwarded-Host": "evil.example",
                                                "X-Forwarded-For": "6.6.6.6"}, timeout=10).json()
    # Nginx's public host, port (PUBLIC_HTTP_PORT) and prefix, never the client's X-Forwarded-Host.
    assert me["url"] == "http://127.0.0.1:8080/shop/whoami"
    assert me["remote_addr"] not in ("", "6.6.6.6", None)
    redirect = requests.get(url, allow_redirects=False, timeout=10)
    assert redirect.status_code == 301 and redirect.headers["Location"].endswith("/shop/")


def test_nginx_answers_what_it_refuses_and_a_missing_app_in_json(stack):
    server, url = stack
    too_big = requests.post(url + "/items", data=b"x" * 4096, timeout=10)
    assert too_big.status_code == 413 and too_big.json()["status"] == 413
    server.stop()
    gone = requests.get(url + "/hello", timeout=10)
    assert gone.status_code == 502 and gone.json()["status"] == 502, gone.text
    server.proc = None
