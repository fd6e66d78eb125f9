"""Forwarded headers count only from the proxy: a peer on the server's Unix socket (how Nginx
reaches the app in Compose) or an address in FORWARDED_ALLOW_IPS; from anyone else who reaches
the app they change neither its URLs nor the logged client address. Real Gunicorn and uWSGI
(its HTTP socket), real sockets."""

import json
import os
import subprocess
import sys

import pytest
import requests
from support.gunicorn import unix_get
from support.uwsgi import servers

HOPS = {"PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1, "PROXY_FIX_X_HOST": 1, "PROXY_FIX_X_PREFIX": 1}
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com",
             "X-Forwarded-Prefix": "/shop", "X-Forwarded-For": "203.0.113.7"}
BELIEVED = {"url": "https://shop.example.com/shop/whoami", "remote_addr": "203.0.113.7"}


@pytest.mark.parametrize("kind", servers())
def test_a_unix_socket_peer_is_the_proxy_and_the_health_check_finds_it(tmp_path, kind):
    sock = tmp_path / "app.sock"
    with kind(tmp_path, GUNICORN_BIND=f"unix:{sock}", GUNICORN_WORKERS="1", METRICS_ENABLED="false",
                  FORWARDED_ALLOW_IPS="192.0.2.1", **HOPS) as server:
        status, body = unix_get(str(sock), "/whoami", FORWARDED)
        assert status == 200 and json.loads(body) == BELIEVED
        check = subprocess.run([sys.executable, "-m", "flaskobs.healthcheck"], env={**os.environ, **server.env},
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
    check = subprocess.run([sys.executable, "-m", "flaskobs.healthcheck"], env={**os.environ, **server.env},
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 1 and "healthcheck:" in check.stderr  # stopped: the check says so


@pytest.mark.parametrize("kind", servers())
def test_a_tcp_peer_outside_forwarded_allow_ips_changes_nothing(tmp_path, kind):
    with kind(tmp_path / "untrusted", GUNICORN_WORKERS="1", METRICS_ENABLED="false",
                  FORWARDED_ALLOW_IPS="192.0.2.1", **HOPS) as server:
        body = requests.get(server.url + "/whoami", headers=FORWARDED, timeout=10).json()
        assert body == {"url": f"http://127.0.0.1:{server.port}/whoami", "remote_addr": "127.0.0.1"}
    with kind(tmp_path / "trusted", GUNICORN_WORKERS="1", METRICS_ENABLED="false",
                  FORWARDED_ALLOW_IPS="127.0.0.0/8", **HOPS) as server:  # the control: same request, trusted
        assert requests.get(server.url + "/whoami", headers=FORWARDED, timeout=10).json() == BELIEVED
