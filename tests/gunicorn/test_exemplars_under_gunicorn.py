"""Exemplars under real Gunicorn workers (flaskobs/exemplars.py): the master serves, in
OpenMetrics only, request ids that were sent, each in the bucket its duration falls in, while
workers are recycled and the counts stay exact; traceparent's trace id joins them. Under both
servers (uWSGI's metrics server merges its workers' exemplars the same way)."""

import json
import re
import socket
import time

import pytest
import requests
from support.gunicorn import Gunicorn
from support.latency_buckets import bucket_interval
from support.uwsgi import servers
from support.waiting import wait_until
from test_metrics_under_gunicorn import EXITS, HELLO

OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}
# name{labels} value # {exemplar labels} exemplar value timestamp
EXEMPLAR = re.compile(r'^(\w+)\{(.*)\} \S+ # \{(.*)\} (\S+) (\S+)$')
TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def labels(text: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


def exemplars(server: Gunicorn) -> list[tuple[str, dict, dict, float]]:
    """(sample name, its labels, the exemplar's labels, the exemplar's value) of an OpenMetrics scrape."""
    text = requests.get(f"http://127.0.0.1:{server.metrics_port}/metrics", headers=OPENMETRICS, timeout=10).text
    assert text.endswith("# EOF\n"), text[-200:]
    return [(m[1], labels(m[2]), labels(m[3]), float(m[4]))
            for m in map(EXEMPLAR.match, text.splitlines()) if m]


def slow_post(server: Gunicorn, request_id: str, pause: float) -> int:
    """A POST whose body arrives in three parts, `pause` seconds apart: slow by its own input
    (a declared length, which both servers read as it comes); its status."""
    parts = (b'{"name":', b'"slow",', b'"price":1}')
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                     b"X-Request-ID: %s\r\nContent-Length: %d\r\n\r\n" % (request_id.encode(), sum(map(len, parts))))
        for n, part in enumerate(parts):
            if n:
                time.sleep(pause)
            sock.sendall(part)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("kind", servers())
def test_exemplars_name_sent_requests_in_their_buckets_across_recycled_workers(tmp_path, kind):
    with kind(tmp_path, GUNICORN_WORKERS=3, GUNICORN_MAX_REQUESTS=7, GUNICORN_MAX_REQUESTS_JITTER=0) as server:
        sent = [f"fast-{i}" for i in range(60)]
        with requests.Session() as session:
            for request_id in sent:
                assert session.get(server.url + "/hello", headers={"X-Request-ID": request_id}).status_code == 200
        slow = [f"slow-{i}" for i in range(2)]
        for request_id in slow:
            # A request waiting in the listen queue for a respawning worker is not yet timed.
            wait_until(server.settled, 20, "every worker up with the app loaded", 0.05)
            assert slow_post(server, request_id, 0.35) == 201
        found = exemplars(server)
        text = server.scrape()  # the Prometheus text format: no exemplars
        assert server.value(HELLO, text) == 60  # counts stay exact
        assert server.value(EXITS.format("recycled"), text) >= 5  # every worker was replaced, some twice
        assert " # {" not in text
    assert found, "no exemplars"
    for name, series, exemplar, value in found:
        assert exemplar["request_id"] in sent + slow, exemplar
        assert set(exemplar) <= {"request_id", "trace_id"}
        if name.endswith("_bucket"):
            low, high = bucket_interval(series["le"])
            assert low < value <= high, (series, exemplar, value)
    hello = [e for n, s, e, _ in found if n.endswith("_bucket") and s["url_rule"] == "/hello"]
    assert hello and all(e["request_id"] in sent for e in hello)
    posted = [(s["le"], e, v) for n, s, e, v in found if n.endswith("_bucket") and s["url_rule"] == "/items"]
    assert posted and all(e["request_id"] in slow and v >= 0.6 and float(le) >= 1.0 for le, e, v in posted), posted
    # the counter carries one too
    assert any(n == "flask_http_request_total" and e["request_id"] in sent + slow for n, _, e, _ in found)


@pytest.mark.parametrize("kind", servers())
def test_exemplar_files_stay_bounded_under_churn(tmp_path, kind):
    with kind(tmp_path, GUNICORN_WORKERS=2, GUNICORN_MAX_REQUESTS=3, GUNICORN_MAX_REQUESTS_JITTER=0) as server:
        with requests.Session() as session:
            for i in range(90):
                session.get(server.url + "/hello", headers={"X-Request-ID": f"churn-{i}"})
        found = exemplars(server)
        files = [f for f in server.metrics_dir.iterdir() if f.name.startswith("exemplars_")]
        assert len(files) <= 2, files  # live workers only: an exited worker's file is folded and deleted
        assert server.value(EXITS.format("recycled")) >= 20
    assert any(e["request_id"].startswith("churn-") for _, _, e, _ in found)


@pytest.mark.parametrize("kind", servers())
def test_a_traceparent_is_on_the_response_the_access_line_and_the_exemplar(tmp_path, kind):
    with kind(tmp_path, GUNICORN_WORKERS=1) as server:
        response = requests.get(server.url + "/hello", timeout=10,
                                headers={"X-Request-ID": "traced-1", "traceparent": f"00-{TRACE}-{PARENT}-01"})
        span = response.headers["traceparent"].split("-")[2]
        assert response.headers["traceparent"] == f"00-{TRACE}-{span}-01" and span != PARENT
        found = exemplars(server)
    access = [json.loads(line) for line in server.output().splitlines()  # written by now: the master stopped
              if line.startswith("{") and '"gunicorn.access"' in line and "traced-1" in line]
    assert any(e == {"request_id": "traced-1", "trace_id": TRACE} for _, _, e, _ in found), found
    assert [(a["trace_id"], a["span_id"]) for a in access] == [(TRACE, span)]


@pytest.mark.parametrize("kind", servers())
def test_switched_off_no_exemplars_and_no_files(tmp_path, kind):
    with kind(tmp_path, GUNICORN_WORKERS=1, METRICS_EXEMPLARS="false") as server:
        assert requests.get(server.url + "/hello", timeout=10).status_code == 200
        assert exemplars(server) == []
        assert server.value(HELLO) == 1
        assert not [f for f in server.metrics_dir.iterdir() if f.name.startswith("exemplars_")]
