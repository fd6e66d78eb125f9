"""Generate grafana/dashboards/*.json: `python3 grafana/generate_dashboards.py`.

Dashboards as code, with the standard library only: every panel comes from the same few
helpers, so each one uses a fixed datasource uid, a current panel type and $__rate_interval.
The JSON is committed (Grafana reads it as is) and a test checks it matches this file.
"""

import json
from pathlib import Path

PROM = {"type": "prometheus", "uid": "prometheus"}
ES = {"type": "elasticsearch", "uid": "elasticsearch-logs"}
RATE = "$__rate_interval"
OUT = Path(__file__).parent / "dashboards"


class Layout:
    """Place panels left to right in rows of 24 columns."""

    def __init__(self):
        self.x = self.y = self.row_height = 0
        self.next_id = 1

    def place(self, panel: dict, width: int, height: int) -> dict:
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": width, "h": height}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += width
        self.row_height = max(self.row_height, height)
        return panel


def prom(expr: str, legend: str = "", ref: str = "A", exemplar: bool = False) -> dict:
    found = {"datasource": PROM, "expr": expr, "legendFormat": legend, "refId": ref}
    if exemplar:  # the request ids Prometheus holds for the expression's series, as points to click
        found["exemplar"] = True
    return found


def panel(kind: str, title: str, targets: list[dict], unit: str = "short", description: str = "",
          datasource: dict | None = PROM, **options) -> dict:
    found = {
        "type": kind, "title": title, "description": description, "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": options or {},
    }
    if datasource is not None:  # a text panel reads nothing
        found["datasource"] = datasource
    return found


def dashboard(uid: str, title: str, panels: list[tuple[dict, int, int]], links=(), variables=()) -> dict:
    layout = Layout()
    return {
        "uid": uid, "title": title, "tags": ["flaskobs"], "timezone": "browser", "schemaVersion": 39,
        "version": 1, "editable": False, "graphTooltip": 1, "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "links": list(links), "templating": {"list": list(variables)},
        "panels": [layout.place(p, w, h) for p, w, h in panels],
    }


def es_count_by(field: str, query: str) -> dict:
    """An Elasticsearch target: documents matching `query` over time, split by `field`."""
    return {"datasource": ES, "refId": "A", "query": query, "metrics": [{"id": "1", "type": "count"}],
            "timeField": "@timestamp",
            "bucketAggs": [{"id": "2", "type": "terms", "field": field,
                            "settings": {"size": "10", "order": "desc", "orderBy": "_count"}},
                           {"id": "3", "type": "date_histogram", "field": "@timestamp",
                            "settings": {"interval": "auto"}}]}


def link(title: str, uid: str) -> dict:
    """A link to another of our dashboards, with every field Grafana's DashboardLink requires."""
    return {"title": title, "type": "link", "url": f"/d/{uid}", "keepTime": True, "targetBlank": False,
            "asDropdown": False, "icon": "dashboard", "includeVars": False, "tags": [], "tooltip": ""}


# Panels on Elasticsearch say so: in the metrics profile there is none, and they stay empty.
NEEDS_ES = "From Elasticsearch, which the logs and full profiles run; empty in the metrics profile."


COUNT = "flask_http_request_duration_seconds_count"
BUCKET = "flask_http_request_duration_seconds_bucket"


REPLICA = "{{node}} {{replica}} {{instance}}"  # legend of a per-replica series


def flask_service() -> dict:
    # Exemplars once per panel (each query would fetch the same ones): a click on one opens the
    # request's logs (grafana/provisioning/datasources/datasources.yaml).
    quantiles = [prom(f'histogram_quantile({q}, sum by (le, url_rule) (rate({BUCKET}[{RATE}])))',
                      f"p{int(q * 100)} {{{{url_rule}}}}", ref, exemplar=ref == "A")
                 for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))]
    return dashboard("flask-service", "Flask service", [
        (panel("stat", "Requests / s", [prom(f"sum(rate({COUNT}[{RATE}]))")], "reqps"), 6, 4),
        (panel("stat", "5xx ratio", [prom(
            f'(sum(rate({COUNT}{{status=~"5.."}}[{RATE}])) or vector(0)) / sum(rate({COUNT}[{RATE}]))')],
            "percentunit"), 6, 4),
        (panel("stat", "p95 latency", [prom(f"histogram_quantile(0.95, sum by (le) (rate({BUCKET}[{RATE}])))")],
               "s"), 6, 4),
        (panel("stat", "Version", [prom("max by (version) (flask_app_info)", "{{version}}")], "none",
               textMode="name", reduceOptions={"calcs": ["lastNotNull"], "fields": "", "values": False}), 6, 4),
        (panel("timeseries", "Request rate by route", [prom(f"sum by (url_rule) (rate({COUNT}[{RATE}]))",
                                                            "{{url_rule}}")], "reqps"), 12, 8),
        (panel("timeseries", "Request rate by status", [prom(f"sum by (status) (rate({COUNT}[{RATE}]))",
                                                             "{{status}}")], "reqps"), 12, 8),
        (panel("timeseries", "Error ratio by route (4xx and 5xx)", [
            prom(f'(sum by (url_rule) (rate({COUNT}{{status=~"5.."}}[{RATE}])) or sum by (url_rule) '
                 f'(rate({COUNT}[{RATE}])) * 0) / sum by (url_rule) (rate({COUNT}[{RATE}]))', "5xx {{url_rule}}"),
            prom(f'(sum by (url_rule) (rate({COUNT}{{status=~"4.."}}[{RATE}])) or sum by (url_rule) '
                 f'(rate({COUNT}[{RATE}])) * 0) / sum by (url_rule) (rate({COUNT}[{RATE}]))', "4xx {{url_rule}}",
                 "B")], "percentunit"), 12, 8),
        (panel("timeseries", "Latency p50 / p95 / p99 by route", quantiles, "s",
               description="Each dot is an exemplar: the latest request in that latency bucket. Click it for "
                           "that request's logs."), 12, 8),
        # Per replica (Swarm labels each by node and task slot; under Compose, the one instance).
        (panel("timeseries", "Request rate by replica", [prom(
            f"sum by (instance, node, replica) (rate({COUNT}[{RATE}]))", REPLICA)], "reqps"), 12, 8),
        (panel("timeseries", "Latency p95 by replica", [prom(
            f"histogram_quantile(0.95, sum by (le, instance, node, replica) (rate({BUCKET}[{RATE}])))", REPLICA,
            exemplar=True)],
            "s"), 12, 8),
        (panel("timeseries", "Database query latency p95 by operation", [prom(
            f"histogram_quantile(0.95, sum by (le, operation) (rate(flask_db_query_duration_seconds_bucket[{RATE}])))",
            "{{operation}}")], "s"), 12, 8),
        (panel("timeseries", "Unhandled exceptions / s", [prom(
            f"sum(rate(flask_http_request_exceptions_total[{RATE}])) or vector(0)", "exceptions")], "reqps"), 12, 8),
    ], links=[link("Logs (by request id)", "flask-logs"), link("SLOs", "flask-slo"),
              link("Gunicorn workers", "gunicorn-workers"), link("Nginx", "nginx")])


def gunicorn_workers() -> dict:
    return dashboard("gunicorn-workers", "Gunicorn workers", [
        (panel("stat", "Live workers", [prom("sum(gunicorn_workers)")]), 6, 4),
        (panel("stat", "Configured workers", [prom("sum(gunicorn_workers_configured)")]), 6, 4),
        (panel("stat", "Unplanned worker exits (1h)", [prom(
            'sum(increase(gunicorn_worker_exits_total{reason=~"killed|timeout|error"}[1h]))')]), 6, 4),
        (panel("stat", "Metrics scrape time", [prom('max(scrape_duration_seconds{job="flask"})')], "s"), 6, 4),
        (panel("timeseries", "Resident memory per worker", [prom("gunicorn_worker_resident_memory_bytes",
                                                                 "pid {{pid}}")], "bytes"), 12, 8),
        (panel("timeseries", "CPU per worker", [prom(f"rate(gunicorn_worker_cpu_seconds_total[{RATE}])",
                                                     "pid {{pid}}")], "percentunit"), 12, 8),
        (panel("timeseries", "Worker exits / min by reason", [prom(
            f"sum by (reason) (rate(gunicorn_worker_exits_total[{RATE}])) * 60", "{{reason}}")]), 12, 8),
        (panel("timeseries", "Master memory and metrics files", [
            prom("gunicorn_master_resident_memory_bytes", "master RSS"),
            prom("gunicorn_metrics_files", "files", "B")], "short"), 12, 8),
        (panel("timeseries", "Log shipping", [
            prom("sum(app_log_queue_events) or vector(0)", "queued events"),
            prom(f"sum(rate(app_log_events_shipped_total[{RATE}]))", "shipped / s", "B"),
            prom(f"sum(rate(app_log_ship_failures_total[{RATE}]))", "failed batches / s", "C"),
            prom(f"sum(rate(app_log_events_dropped_total[{RATE}]))", "dropped / s", "D")]), 24, 8),
    ], links=[link("Flask service", "flask-service")])


def nginx() -> dict:
    return dashboard("nginx", "Nginx", [
        (panel("stat", "Nginx up", [prom("max(nginx_up)")]), 6, 4),
        (panel("stat", "Active connections", [prom("sum(nginx_connections_active)")]), 6, 4),
        (panel("stat", "Requests / s", [prom(f"sum(rate(nginx_http_requests_total[{RATE}]))")], "reqps"), 6, 4),
        (panel("stat", "Dropped connections / s", [prom(
            f"sum(rate(nginx_connections_accepted[{RATE}])) - sum(rate(nginx_connections_handled[{RATE}]))")],
            "reqps"), 6, 4),
        (panel("timeseries", "Connections", [
            prom("sum(nginx_connections_reading)", "reading"),
            prom("sum(nginx_connections_writing)", "writing", "B"),
            prom("sum(nginx_connections_waiting)", "waiting (keep-alive)", "C")]), 12, 8),
        (panel("timeseries", "Requests / s", [prom(f"sum(rate(nginx_http_requests_total[{RATE}]))", "requests")],
               "reqps"), 12, 8),
        # Status codes from Nginx itself (njs, port 8081): its own 502/504/429 included.
        (panel("timeseries", "Responses / s by status", [prom(
            f"sum by (code) (rate(nginx_http_responses_total[{RATE}]))", "{{code}}")], "reqps"), 12, 8),
        (panel("timeseries", "5xx and 429 share of responses", [
            prom(f'(sum(rate(nginx_http_responses_total{{code=~"5.."}}[{RATE}])) or vector(0))'
                 f" / sum(rate(nginx_http_responses_total[{RATE}]))", "5xx"),
            prom(f'(sum(rate(nginx_http_responses_total{{code="429"}}[{RATE}])) or vector(0))'
                 f" / sum(rate(nginx_http_responses_total[{RATE}]))", "429", "B")], "percentunit"), 12, 8),
        # stub_status has no timings: they come from Nginx's JSON access log (logs profile).
        (panel("timeseries", "Responses by status class (access log, logs profile)",
               [es_count_by("status_class", 'logger:"nginx.access"')], description=NEEDS_ES, datasource=ES), 12, 8),
        (panel("timeseries", "Upstream response time (access log, logs profile)", [
            {"datasource": ES, "refId": "A", "query": 'logger:"nginx.access"',
             "metrics": [{"id": "1", "type": "percentiles", "field": "upstream_response_time",
                          "settings": {"percents": ["50", "95", "99"]}}],
             "timeField": "@timestamp",
             "bucketAggs": [{"id": "2", "type": "date_histogram", "field": "@timestamp",
                             "settings": {"interval": "auto"}}]}], "s", description=NEEDS_ES, datasource=ES), 12, 8),
    ], links=[link("Flask service", "flask-service")])


def es_logs(query: str) -> dict:
    return {"datasource": ES, "refId": "A", "query": query, "metrics": [{"id": "1", "type": "logs"}],
            "bucketAggs": [], "timeField": "@timestamp"}


def logs() -> dict:
    # Grafana writes a variable into an Elasticsearch query in its lucene format, which escapes
    # "*": a default of "*" became request_id:\* and matched nothing. The id goes in raw, quoted
    # (ids are letters, digits and . _ : -); "every line" is a panel of its own, with no filter,
    # since lines logged outside a request have no request_id at all.
    request_id = {"name": "request_id", "label": "Request id", "type": "textbox", "query": "",
                  "current": {"text": "", "value": ""}, "description": "From the X-Request-ID response header"}
    trace_id = {"name": "trace_id", "label": "Trace id", "type": "textbox", "query": "",
                "current": {"text": "", "value": ""},
                "description": "From the traceparent response header (its second part), or your tracer"}
    return dashboard("flask-logs", "Logs", [
        (panel("text", "About these panels", [], description=NEEDS_ES, datasource=None, mode="markdown",
               content="Logs in Elasticsearch: the **logs** and **full** profiles. Paste an id from an "
                       "`X-Request-ID` response header in *Request id* (or a trace id in *Trace id*) to follow "
                       "one request through Nginx and the app; an exemplar's link on the Flask service "
                       "dashboard fills it in."), 24, 3),
        (panel("timeseries", "Log lines by level", [es_count_by("level", "*")], description=NEEDS_ES,
               datasource=ES), 24, 7),
        (panel("logs", "Lines of the request id or trace id (app and Nginx)",
               [es_logs('request_id:"${request_id:raw}" OR trace_id:"${trace_id:raw}"')],
               description=NEEDS_ES, datasource=ES, showTime=True, wrapLogMessage=True,
               sortOrder="Ascending"), 24, 12),
        (panel("logs", "Every line", [es_logs("*")], description=NEEDS_ES, datasource=ES, showTime=True,
               wrapLogMessage=True, sortOrder="Descending"), 24, 12),
    ], links=[link("Flask service", "flask-service")], variables=[request_id, trace_id])


def slo() -> dict:
    """The SLOs of prometheus/slo/render_slo_rules.py: budget left and burn rate per window. The
    longest window Prometheus holds by default is 3 days (15-day retention), so "left" is over 3 days."""
    def left(slo: str) -> dict:
        return prom(f"1 - max(job:slo_{slo}_bad:ratio_rate3d) / scalar(job:slo_{slo}_budget:ratio)")

    def burn(slo: str) -> list[dict]:
        return [prom(f"max(job:slo_{slo}_bad:ratio_rate{w}) / scalar(job:slo_{slo}_budget:ratio)", w, ref)
                for w, ref in (("1h", "A"), ("6h", "B"), ("1d", "C"), ("3d", "D"))]
    firing = prom('count(ALERTS{alertname=~"Flask.*BudgetBurn.*", alertstate="firing"}) or vector(0)')
    about = ("1 is the sustainable pace: the budget lasts the 30 days. The fast alerts page at 14.4 (1h) "
             "and 6 (6h), the slow ones file a ticket at 3 (1d) and 1 (3d).")
    return dashboard("flask-slo", "Flask SLOs", [
        (panel("stat", "Availability budget left (3 days)", [left("availability")], "percentunit"), 8, 4),
        (panel("stat", "Latency budget left (3 days)", [left("latency")], "percentunit"), 8, 4),
        (panel("stat", "SLO alerts firing", [firing]), 8, 4),
        (panel("timeseries", "Availability: burn rate by window", burn("availability"), description=about), 12, 8),
        (panel("timeseries", "Latency: burn rate by window", burn("latency"), description=about), 12, 8),
    ], links=[link("Flask service", "flask-service")])


DASHBOARDS = {"flask-service.json": flask_service, "gunicorn-workers.json": gunicorn_workers,
              "nginx.json": nginx, "logs.json": logs, "slo.json": slo}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2, sort_keys=True) + "\n" for name, build in DASHBOARDS.items()}


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(f"wrote grafana/dashboards/{name}")
