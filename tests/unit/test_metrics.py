"""Request metrics, labelled by route rule (bounded), probes and static files excluded, and
database latency through flaskobs.time_queries: on the tiny app, not the demo."""

import pytest
from sqlalchemy import create_engine, text

import flaskobs


def registry(app):
    return flaskobs.state(app).metrics.registry


def sample(app, name, **labels):
    value = registry(app).get_sample_value(name, labels)
    return 0.0 if value is None else value


def counted_requests(app) -> list:
    """Every sample of flask_http_request_total. prometheus_client names the family without
    its _total suffix; a filter on the sample name would match nothing, and pass for nothing."""
    return [s for family in registry(app).collect() if family.name == "flask_http_request"
            for s in family.samples if s.name == "flask_http_request_total"]


def test_requests_are_counted_by_route_rule_not_path(tiny):
    client = tiny.test_client()
    for item_id in (2, 3, 4):
        client.get(f"/items/{item_id}")
    assert sample(tiny, "flask_http_request_duration_seconds_count",
                  method="GET", status="404", url_rule="/items/<int:item_id>") == 3


def test_unknown_paths_share_one_series(tiny):
    client = tiny.test_client()
    for path in ("/a", "/b", "/wp-login.php"):
        client.get(path)
    assert sample(tiny, "flask_http_request_duration_seconds_count", method="GET", status="404", url_rule="None") == 3


def test_probes_and_static_files_are_not_counted_but_other_requests_are(tiny, tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "static/style.css").write_text("body {}")
    tiny.static_folder = str(tmp_path / "static")
    client = tiny.test_client()
    for path in ("/healthz", "/readyz", "/static/style.css"):
        assert client.get(path).status_code == 200
    assert counted_requests(tiny) == []
    client.get("/hello")  # the control: the same filter does see a counted request
    assert [(s.labels, s.value) for s in counted_requests(tiny)] == [({"method": "GET", "status": "200"}, 1.0)]


def test_each_app_has_its_own_registry(make_tiny):
    first, second = make_tiny(), make_tiny()
    first.test_client().get("/hello")
    assert sample(first, "flask_http_request_total", method="GET", status="200") == 1
    assert sample(second, "flask_http_request_total", method="GET", status="200") == 0


def test_unhandled_exception_is_counted_once_as_500(tiny):
    tiny.test_client().get("/boom")
    assert sample(tiny, "flask_http_request_exceptions_total", method="GET", status="500") == 1
    assert sample(tiny, "flask_http_request_duration_seconds_count", method="GET", status="500",
                  url_rule="/boom") == 1
    assert sample(tiny, "flask_http_request_total", method="GET", status="500") == 1


def test_unknown_methods_share_one_label(tiny):
    client = tiny.test_client()
    for method in ("PROPFIND", "BREW", "XYZZY"):
        client.open("/hello", method=method)
    assert sample(tiny, "flask_http_request_total", method="other", status="405") == 3


def test_app_info_names_the_service_and_version(make_tiny):
    app = make_tiny(SERVICE_NAME="shop", APP_VERSION="1.2.3")
    assert sample(app, "flask_app_info", service="shop", version="1.2.3") == 1


def test_metrics_can_be_switched_off(make_tiny):
    app = make_tiny(METRICS_ENABLED="false")
    assert flaskobs.state(app).metrics is None
    assert app.test_client().get("/hello").status_code == 200


def test_time_queries_records_each_statement_once_per_engine(tiny, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/t.db")
    flaskobs.time_queries(engine, tiny)
    flaskobs.time_queries(engine, tiny)  # twice: still one observation per statement
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.execute(text("SELECT x FROM t")).all()
        conn.execute(text("SELECT count(*) FROM t")).all()
    assert sample(tiny, "flask_db_query_duration_seconds_count", operation="select") == 2
    assert sample(tiny, "flask_db_query_duration_seconds_count", operation="insert") == 1
    assert sample(tiny, "flask_db_query_duration_seconds_count", operation="other") == 1  # CREATE
    assert sample(tiny, "flask_db_query_duration_seconds_sum", operation="select") > 0


def test_time_queries_needs_flaskobs_first(tmp_path):
    from flask import Flask
    with pytest.raises(RuntimeError, match=r"call flaskobs.init_app\(app\)"):
        flaskobs.time_queries(create_engine(f"sqlite:///{tmp_path}/t.db"), Flask("bare"))


def test_time_queries_does_nothing_with_metrics_off(make_tiny, tmp_path):
    app = make_tiny(METRICS_ENABLED="false")
    engine = create_engine(f"sqlite:///{tmp_path}/t.db")
    flaskobs.time_queries(engine, app)
    assert not getattr(engine.dialect.do_execute, "_flaskobs_timed", False)
