"""Behind a proxy: forwarded scheme, host, client address and path prefix, from trusted hops
only (flaskobs wraps the app in Werkzeug's ProxyFix with the PROXY_FIX_* hops)."""

import json

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com",
             "X-Forwarded-Prefix": "/shop", "X-Forwarded-For": "203.0.113.7"}
HOPS = {"PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1, "PROXY_FIX_X_HOST": 1, "PROXY_FIX_X_PREFIX": 1}


def test_links_and_client_address_follow_trusted_hops(make_tiny):
    body = make_tiny(**HOPS).test_client().get("/whoami", headers=FORWARDED).json
    assert body == {"url": "https://shop.example.com/shop/whoami", "remote_addr": "203.0.113.7"}


def test_real_client_address_is_logged(make_tiny, capsys):
    make_tiny(**HOPS).test_client().post("/items", headers=FORWARDED)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert next(line for line in lines if line["message"] == "item created")["remote_addr"] == "203.0.113.7"


def test_forwarded_headers_are_ignored_without_trusted_hops(tiny):
    body = tiny.test_client().get("/whoami", headers=FORWARDED).json
    assert body == {"url": "http://localhost/whoami", "remote_addr": "127.0.0.1"}


def test_forwarded_headers_from_an_untrusted_peer_change_nothing(make_tiny):
    """Anyone who reaches the app directly (not through the proxy) must not pick its URLs or the
    logged client address."""
    client = make_tiny(**HOPS).test_client()
    body = client.get("/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "172.20.0.9"}).json
    assert body == {"url": "http://localhost/whoami", "remote_addr": "172.20.0.9"}


def test_a_trusted_network_and_a_socket_peer_count(make_tiny):
    client = make_tiny(FORWARDED_ALLOW_IPS="172.20.0.0/16", **HOPS).test_client()
    for peer in ("172.20.0.9", ""):  # "": Gunicorn's REMOTE_ADDR for a Unix socket peer
        body = client.get("/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": peer}).json
        assert body == {"url": "https://shop.example.com/shop/whoami", "remote_addr": "203.0.113.7"}
    assert client.get("/whoami", headers=FORWARDED,
                      environ_base={"REMOTE_ADDR": "127.0.0.1"}).json["remote_addr"] == "127.0.0.1"
