"""Grafana provisioning: dashboards are current, generated from code, and every PromQL parses."""

import json
import re
import sys

import pytest
import yaml
from support.docker import ROOT, tool_in_image
from support.grafana import DASHBOARDS, datasources, targets

CURRENT_PANELS = {"timeseries", "stat", "logs", "table", "bargauge", "gauge", "text", "barchart"}


def datasource_uids() -> set[str]:
    return {d["uid"] for d in datasources()}


def promql_exprs() -> list[str]:
    return [t["expr"] for _, _, t in targets() if t["datasource"]["type"] == "prometheus"]


def test_committed_json_is_what_the_generator_makes():
    sys.path.insert(0, str(ROOT / "grafana"))
    import generate_dashboards
    rendered = generate_dashboards.render()
    assert sorted(rendered) == [p.name for p in DASHBOARDS]
    for path in DASHBOARDS:
        stale = f"{path.name} is stale: run python3 grafana/generate_dashboards.py"
        assert path.read_text() == rendered[path.name], stale


def test_panels_use_current_types_and_fixed_datasource_uids():
    uids = datasource_uids()
    assert uids == {"prometheus", "elasticsearch-logs"}
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["type"] in CURRENT_PANELS, (path.name, panel["title"], panel["type"])
    for name, panel, target in targets():
        assert panel["datasource"]["uid"] in uids, (name, panel["title"])
        assert target["datasource"]["uid"] in uids, (name, panel["title"])
    for path in DASHBOARDS:
        text = path.read_text()
        assert "${DS_" not in text and "__inputs" not in text


def test_dashboard_uids_are_fixed_and_links_resolve():
    boards = {json.loads(p.read_text())["uid"]: json.loads(p.read_text()) for p in DASHBOARDS}
    assert set(boards) == {"flask-service", "gunicorn-workers", "nginx", "flask-logs", "flask-slo"}
    for board in boards.values():
        for link in board["links"]:
            assert link["url"].removeprefix("/d/") in boards
    assert any(link["url"] == "/d/flask-logs" for link in boards["flask-service"]["links"])
    assert [v["name"] for v in boards["flask-logs"]["templating"]["list"]] == ["request_id", "trace_id"]


def test_rate_windows_follow_the_scrape_interval():
    for expr in promql_exprs():
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert window in ("$__rate_interval", "1h"), (expr, window)


def test_every_dashboard_and_rule_expression_parses(tmp_path):
    """promtool parses each dashboard query, wrapped as a recording rule (Grafana's variables replaced)."""
    exprs = [e.replace("$__rate_interval", "1m") for e in promql_exprs()]
    assert exprs
    rules = {"groups": [{"name": "dashboards", "rules": [{"record": f"dashboard:expr:{i}", "expr": e}
                                                         for i, e in enumerate(exprs)]}]}
    (tmp_path / "dashboards.rules.yml").write_text(yaml.safe_dump(rules))
    out = tool_in_image("PROMETHEUS_IMAGE", "promtool", "check", "rules", "/check/dashboards.rules.yml",
                        mounts={str(tmp_path): "/check"})
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("typo", ["sum(rate(flask_http_request_total[1m])",
                                  "histogram_quantile(0.95, sum by (le) rate(x[1m]))"])
def test_the_parse_check_catches_a_typo(tmp_path, typo):
    rules = {"groups": [{"name": "bad", "rules": [{"record": "bad:expr", "expr": typo}]}]}
    (tmp_path / "bad.rules.yml").write_text(yaml.safe_dump(rules))
    out = tool_in_image("PROMETHEUS_IMAGE", "promtool", "check", "rules", "/check/bad.rules.yml",
                        mounts={str(tmp_path): "/check"})
    assert out.returncode != 0


def es_targets():
    return [(name, panel, target) for name, panel, target in targets()
            if target["datasource"]["type"] == "elasticsearch"]


def test_the_request_id_goes_into_queries_raw_and_all_lines_have_a_filterless_panel():
    """Grafana writes variables into Elasticsearch queries in its lucene format, which escapes
    "*": the Logs dashboard's default became request_id:\\* and showed nothing (issue 12, 1)."""
    queries = [target["query"] for _, _, target in es_targets()]
    assert queries and all("$request_id" not in q and "${request_id}" not in q for q in queries), queries
    assert all("$trace_id" not in q and "${trace_id}" not in q for q in queries), queries
    assert 'request_id:"${request_id:raw}" OR trace_id:"${trace_id:raw}"' in queries
    logs = json.loads((ROOT / "grafana/dashboards/logs.json").read_text())
    every_line = [p for p in logs["panels"] if p["type"] == "logs" and p["targets"][0]["query"] == "*"]
    assert every_line, "no panel shows every line (those logged outside a request have no request_id)"
    variable = logs["templating"]["list"][0]
    assert variable["name"] == "request_id" and variable["query"] == ""


def test_panels_on_elasticsearch_say_why_they_may_be_empty():
    """In the metrics profile Grafana has no Elasticsearch behind the datasource (issue 12, 11)."""
    for name, panel, _ in es_targets():
        assert "logs and full profiles" in panel["description"], (name, panel["title"])
