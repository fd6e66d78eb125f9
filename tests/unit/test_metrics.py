"""Request and database metrics, labelled by route rule (bounded), with probes excluded."""


def sample(app, name, **labels):
    registry = app.extensions["metrics"].registry
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_requests_are_counted_by_route_rule_not_path(app):
    client = app.test_client()
    for item_id in (1, 2, 3):
        client.get(f"/api/items/{item_id}")
    assert sample(app, "flask_http_request_duration_seconds_count",
                  method="GET", status="404", url_rule="/api/items/<int:item_id>") == 3


def test_unknown_paths_share_one_series(app):
    client = app.test_client()
    for path in ("/a", "/b", "/wp-login.php"):
        client.get(path)
    assert sample(app, "flask_http_request_duration_seconds_count", method="GET", status="404", url_rule="None") == 3


def test_probes_and_static_files_are_not_counted(app):
    client = app.test_client()
    for path in ("/healthz", "/readyz", "/static/style.css"):
        assert client.get(path).status_code == 200
    registry = app.extensions["metrics"].registry
    counted = [s for m in registry.collect() if m.name == "flask_http_request_total" for s in m.samples]
    assert counted == []


def test_database_latency_and_app_info(app):
    def count(operation):
        return sample(app, "flask_db_query_duration_seconds_count", operation=operation)

    client = app.test_client()
    before = count("select"), count("insert")
    client.get("/api/items")  # a page of rows and the total: two statements
    assert (count("select"), count("insert")) == (before[0] + 2, before[1])
    assert client.post("/api/items", json={"name": "a", "price": 1}).status_code == 201
    assert count("insert") == before[1] + 1
    assert sample(app, "flask_db_query_duration_seconds_sum", operation="select") > 0
    assert sample(app, "flask_app_info", service="flask-app", version="dev") == 1


def test_each_app_has_its_own_registry(make_app):
    first, second = make_app(), make_app()
    first.test_client().get("/api/hello")
    assert sample(first, "flask_http_request_total", method="GET", status="200") == 1
    assert sample(second, "flask_http_request_total", method="GET", status="200") == 0


def test_unhandled_exception_is_counted_once_as_500(make_app):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    app.test_client().get("/boom")
    assert sample(app, "flask_http_request_exceptions_total", method="GET", status="500") == 1
    assert sample(app, "flask_http_request_duration_seconds_count", method="GET", status="500", url_rule="/boom") == 1
    assert sample(app, "flask_http_request_total", method="GET", status="500") == 1


def test_unknown_methods_share_one_label(app):
    client = app.test_client()
    for method in ("PROPFIND", "BREW", "XYZZY"):
        client.open("/api/hello", method=method)
    assert sample(app, "flask_http_request_total", method="other", status="405") == 3


def test_metrics_can_be_switched_off(make_app):
    # A string from test_config goes through the same parsing as the environment ("false" is off).
    app = make_app(METRICS_ENABLED="false")
    assert "metrics" not in app.extensions
    assert app.test_client().get("/api/items").status_code == 200
