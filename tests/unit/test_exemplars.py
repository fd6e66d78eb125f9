"""The exemplar files (flaskobs/exemplars.py): bounded, never read half-written, kept when a
worker exits, and served only where OpenMetrics allows them."""

import json
import multiprocessing
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

from flaskobs import exemplars

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REQUEST_IDS = st.from_regex(r"\A[A-Za-z0-9._:-]{1,128}\Z")  # what request_ids.valid() accepts


@given(REQUEST_IDS, st.one_of(st.none(), st.just(TRACE)))
def test_labels_stay_within_the_openmetrics_budget(request_id, trace_id):
    found = exemplars.labels(request_id, trace_id)
    chosen = json.loads(found)
    assert sum(len(k) + len(v) for k, v in chosen.items()) <= exemplars.LABEL_BUDGET
    assert chosen.get("request_id", request_id) == request_id and chosen.get("trace_id", trace_id) == trace_id
    # The request id is kept whenever it fits on its own; the trace id joins it when both fit.
    assert ("request_id" in chosen) == (len(request_id) <= 118)
    assert ("trace_id" in chosen) == (trace_id is not None and (len(request_id) > 118 or len(request_id) <= 78))


def test_no_ids_no_exemplar():
    assert exemplars.labels(None, None) is None


def test_a_slot_per_series_rewritten_in_place(tmp_path):
    store = exemplars.ExemplarFile(str(tmp_path), 1)
    keys = [exemplars.series_key("x_total", {"n": str(i)}) for i in range(200)]
    for i, key in enumerate(keys):
        assert store.write(key, exemplars.labels(f"id-{i}", None), 1.0, 100.0 + i)
    size = os.path.getsize(store.path)
    for i, key in enumerate(keys):  # much later: each slot is rewritten, the file does not grow
        assert store.write(key, exemplars.labels(f"again-{i}", TRACE), 2.0, 200.0 + i)
    assert os.path.getsize(store.path) == size == 256 * exemplars.SLOT_SIZE
    found = exemplars.read_file(store.path)
    assert len(found) == 200
    assert found[keys[7]] == (exemplars.labels("again-7", TRACE), 2.0, 207.0)


def test_writes_to_one_series_are_sampled(tmp_path):
    store = exemplars.ExemplarFile(str(tmp_path), 1)
    key = exemplars.series_key("x_total", {})
    assert store.write(key, b'{"request_id":"a"}', 1.0, 100.0)
    assert not store.write(key, b'{"request_id":"b"}', 1.0, 100.0 + exemplars.MIN_INTERVAL / 2)
    assert store.write(key, b'{"request_id":"c"}', 1.0, 100.0 + exemplars.MIN_INTERVAL * 1.5)
    assert exemplars.read_file(store.path)[key][0] == b'{"request_id":"c"}'


def test_the_file_stops_growing_at_max_slots(tmp_path, monkeypatch):
    monkeypatch.setattr(exemplars, "MAX_SLOTS", 100)
    store = exemplars.ExemplarFile(str(tmp_path), 1)
    written = [store.write(exemplars.series_key("x_total", {"n": str(i)}), b'{"request_id":"a"}', 1.0, 1.0)
               for i in range(150)]
    assert written == [True] * 100 + [False] * 50
    assert os.path.getsize(store.path) == 100 * exemplars.SLOT_SIZE
    assert not store.write(b"k" * exemplars.SLOT_SIZE, b"{}", 1.0, 1.0)  # a key that cannot fit a slot


def _hammer(directory: str, rounds: int) -> None:
    store = exemplars.ExemplarFile(directory, os.getpid())
    keys = [exemplars.series_key("x_total", {"n": str(i)}) for i in range(4)]
    for i in range(rounds):
        # value, label and timestamp all say i: a torn read would mix two writes
        store.write(keys[i % 4], exemplars.labels(f"r{i:09d}" + "x" * (i % 60), TRACE), float(i), 1e6 + i)
        exemplars.MIN_INTERVAL = 0  # in this child only


def test_the_master_never_reads_a_half_written_slot(tmp_path):
    child = multiprocessing.get_context("fork").Process(target=_hammer, args=(str(tmp_path), 60_000))
    child.start()
    reads = 0
    while child.is_alive() or reads == 0:
        for found in [exemplars.read_file(p) for p in tmp_path.glob("exemplars_*.bin")]:
            for labels, value, stamp in found.values():
                n = int(re.search(rb"r(\d{9})", labels).group(1))
                assert value == n and stamp == 1e6 + n and labels == exemplars.labels(
                    f"r{n:09d}" + "x" * (n % 60), TRACE)
                reads += 1
    child.join()
    assert child.exitcode == 0 and reads > 0


def test_an_exited_workers_exemplars_are_kept_and_its_file_deleted(tmp_path):
    directory = str(tmp_path)
    key = exemplars.series_key("x_total", {})
    older, newer = exemplars.ExemplarFile(directory, 101), exemplars.ExemplarFile(directory, 102)
    older.write(key, b'{"request_id":"old"}', 1.0, 50.0)
    newer.write(key, b'{"request_id":"new"}', 1.0, 60.0)
    other = exemplars.series_key("y_total", {})
    older.write(other, b'{"request_id":"only-in-101"}', 1.0, 55.0)
    exemplars._archive.clear()
    exemplars.fold_dead_worker(101, directory)
    assert not os.path.exists(older.path)
    found = exemplars.collect(directory)
    assert found[("x_total", ())].labels == {"request_id": "new"}  # newest wins, wherever it is
    assert found[("y_total", ())].labels == {"request_id": "only-in-101"}  # the exited worker's, kept
    exemplars.fold_dead_worker(102, directory)
    assert os.listdir(directory) == [] and exemplars.collect(directory)[("x_total", ())].value == 1.0
    exemplars._archive.clear()


def test_served_on_buckets_and_totals_only_in_openmetrics(tmp_path):
    registry = CollectorRegistry()
    histogram = Histogram("lat_seconds", "h", ["route"], buckets=(0.1, 1.0), registry=registry)
    counter = Counter("req", "c", ["route"], registry=registry)
    histogram.labels("/a").observe(0.5)
    counter.labels("/a").inc()
    example = exemplars.Exemplar
    found = {("lat_seconds_bucket", (("le", "1.0"), ("route", "/a"))): example({"request_id": "b"}, 0.5, 9.0),
             ("lat_seconds_count", (("route", "/a"),)): example({"request_id": "no"}, 0.5, 9.0),
             ("req_total", (("route", "/a"),)): example({"request_id": "c"}, 1.0, 9.0)}

    class Attached:
        def collect(self):
            return exemplars.attach(registry.collect(), found)
    text = openmetrics(Attached()).decode()  # raises on an exemplar OpenMetrics does not allow
    assert 'lat_seconds_bucket{le="1.0",route="/a"} 1.0 # {request_id="b"} 0.5 9.0' in text
    assert 'req_total{route="/a"} 1.0 # {request_id="c"} 1.0 9.0' in text
    assert '"no"' not in text


@pytest.mark.parametrize("value", [0.0, 0.005, 0.0051, 0.3, 5.0, 99.0])
def test_bucket_keys_name_the_bucket_prometheus_client_counts(value):
    from bisect import bisect_left

    from flaskobs.metrics import REQUEST_BUCKETS
    registry = CollectorRegistry()
    histogram = Histogram("d", "h", buckets=REQUEST_BUCKETS, registry=registry)
    histogram.observe(value)
    counted = {s.labels["le"] for s in next(iter(registry.collect())).samples
               if s.name == "d_bucket" and s.value == 1}
    first = min(counted, key=lambda le: float(le))
    key = exemplars.bucket_keys("d", {}, REQUEST_BUCKETS)[bisect_left(REQUEST_BUCKETS, value)]
    assert key == exemplars.series_key("d_bucket", {"le": first})


def test_a_file_that_cannot_be_written_switches_exemplars_off_not_the_request(tmp_path, caplog):
    from time import perf_counter

    from flask import Flask
    from prometheus_flask_exporter import PrometheusMetrics

    from flaskobs import metrics, request_ids
    from flaskobs.observer import ROUTE_KEY, START_KEY
    exporter = PrometheusMetrics(Flask("x"), path=None, registry=CollectorRegistry(), export_defaults=False)
    recorder = metrics.RequestMetrics(exporter, str(tmp_path / "not-there"))
    exemplars._forget_writer()
    environ = {START_KEY: perf_counter(), ROUTE_KEY: "/a", "REQUEST_METHOD": "GET", request_ids.ENVIRON_KEY: "r1"}
    recorder.record(environ, "200 OK")  # no exception reaches the request
    exemplars._forget_writer()
    assert recorder.exemplar_dir is None and "exemplars switched off" in caplog.text
    count = exporter.registry.get_sample_value("flask_http_request_duration_seconds_count",
                                               {"method": "GET", "url_rule": "/a", "status": "200"})
    assert count == 1
