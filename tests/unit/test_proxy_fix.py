"""Behind a proxy: forwarded scheme, host, client address and path prefix, from trusted hops only."""

import json

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com",
             "X-Forwarded-Prefix": "/shop", "X-Forwarded-For": "203.0.113.7"}
HOPS = {"PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1, "PROXY_FIX_X_HOST": 1, "PROXY_FIX_X_PREFIX": 1}


def test_links_carry_scheme_host_and_prefix(make_app):
    client = make_app(**HOPS).test_client()
    item = client.post("/api/items", json={"name": "tea", "price": 1}, headers=FORWARDED).get_json()
    assert item["url"] == f"https://shop.example.com/shop/api/items/{item['id']}"
    page = client.get("/", headers=FORWARDED).get_data(as_text=True)
    assert 'href="/shop/static/style.css"' in page
    assert 'data-api="/shop/api/items"' in page


def test_real_client_address_is_logged(make_app, capsys):
    client = make_app(**HOPS).test_client()
    client.post("/api/items", json={"name": "tea", "price": 1}, headers=FORWARDED)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert next(line for line in lines if line["message"] == "item created")["remote_addr"] == "203.0.113.7"


def test_forwarded_headers_are_ignored_without_trusted_hops(make_app):
    client = make_app().test_client()
    item = client.post("/api/items", json={"name": "tea", "price": 1}, headers=FORWARDED).get_json()
    assert item["url"].startswith("http://localhost/api/items/")


def test_session_cookie_is_secure_over_https(make_app):
    app = make_app(**HOPS)

    @app.get("/login")
    def login():
        from flask import session
        session["user"] = "ada"
        return {"ok": True}

    client = app.test_client()
    secure = client.get("/login", headers=FORWARDED).headers["Set-Cookie"]
    plain = client.get("/login").headers["Set-Cookie"]
    assert "Secure" in secure and "HttpOnly" in secure
    assert "Secure" not in plain


def test_session_round_trips_through_the_fast_path(make_app):
    app = make_app()

    @app.get("/remember")
    def remember():
        from flask import session
        session["n"] = session.get("n", 0) + 1
        return {"n": session["n"]}

    client = app.test_client()
    assert client.get("/remember").get_json() == {"n": 1}
    assert client.get("/remember").get_json() == {"n": 2}  # the signed cookie was read back
    assert "Set-Cookie" not in client.get("/api/hello").headers
