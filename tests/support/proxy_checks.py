"""What the proxy tier checks of either proxy in front of the app (Nginx, or Caddy with
PROXY=caddy), given how to reach it: one check, run by test_proxy_profile.py and
test_caddy_proxy.py against their own stacks."""

import json
import socket
import ssl

import pytest
import requests


def assert_security_headers(headers) -> None:
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "Server" not in headers or "/" not in headers["Server"]  # no version


def assert_tls_1_1_refused(host: str, port: int) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.minimum_version = ssl.TLSVersion.TLSv1
    with socket.create_connection((host, port), timeout=5) as raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw).do_handshake()


def assert_no_path_traversal_under_static(get) -> None:
    """get(path) -> Response, through the proxy."""
    for path in ("/static/../__init__.py", "/static/%2e%2e/config.py", "/static/..%2f..%2fetc/passwd"):
        response = get(path)
        assert response.status_code in (400, 404), path
        assert "import" not in response.text and "root:" not in response.text


def assert_prefixed_links(base: str) -> None:
    """The demo served under /shop over plain HTTP, reached at base (scheme://host:port)."""
    page = requests.get(base + "/shop/", timeout=10)
    assert page.status_code == 200
    assert 'href="/shop/static/style.css"' in page.text and 'data-api="/shop/api/items"' in page.text
    assert requests.get(base + "/shop/static/style.css", timeout=10).status_code == 200
    item = requests.post(base + "/shop/api/items", json={"name": "tea", "price": 1}, timeout=10).json()
    assert item["url"].startswith("http://127.0.0.1:") and f"/shop/api/items/{item['id']}" in item["url"]
    assert requests.get(item["url"].replace(item["url"].split("/shop")[0], base), timeout=10).json()["id"] == item["id"]
    redirect = requests.get(base + "/shop", allow_redirects=False, timeout=10)
    assert redirect.status_code == 301 and redirect.headers["Location"].endswith("/shop/")
    assert "Strict-Transport-Security" not in page.headers  # no HSTS over plain HTTP
    assert json.loads(requests.get(base + "/api/hello", timeout=10).text)["status"] == 404  # outside the prefix
