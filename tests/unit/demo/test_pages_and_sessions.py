"""The demo's page behind a proxy, and its sessions: Secure over HTTPS, free when unused."""

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com",
             "X-Forwarded-Prefix": "/shop", "X-Forwarded-For": "203.0.113.7"}
HOPS = {"PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1, "PROXY_FIX_X_HOST": 1, "PROXY_FIX_X_PREFIX": 1}


def test_item_links_and_page_carry_scheme_host_and_prefix(make_app):
    client = make_app(**HOPS).test_client()
    item = client.post("/api/items", json={"name": "tea", "price": 1}, headers=FORWARDED).get_json()
    assert item["url"] == f"https://shop.example.com/shop/api/items/{item['id']}"
    page = client.get("/", headers=FORWARDED).get_data(as_text=True)
    assert 'href="/shop/static/style.css"' in page
    assert 'data-api="/shop/api/items"' in page


def test_page_names_the_service_and_version(make_app):
    page = make_app(SERVICE_NAME="tea-shop", APP_VERSION="4.5.6").test_client().get("/").get_data(as_text=True)
    assert "<h1>tea-shop</h1>" in page and "version 4.5.6" in page


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
