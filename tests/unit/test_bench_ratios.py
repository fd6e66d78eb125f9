"""bench/run.py's ratios: each the median of per-round ratios, round i of one variant against round i
of the other, also when the exemplar pair has more rounds than the rest (a run crashed on that);
their spreads, and the instruction table of the report."""

import pytest

from bench.report import breakdown_lines, instruction_lines
from bench.run import EXEMPLAR_PAIR, ratio_spreads, ratios, waiting_ratios


def row(*samples: float) -> dict:
    return {"samples": list(samples)}


def test_the_exemplar_pair_uses_its_extra_rounds_and_the_others_the_shared_ones():
    on, off = EXEMPLAR_PAIR
    t = {"hello: bare app": row(100, 100, 100),
         on: row(99, 99, 99, 50, 50, 50, 50), off: row(100, 100, 100, 100, 100, 100, 100)}
    found = ratios(t)
    assert found["hello_exemplars_on_vs_off"] == pytest.approx(0.5)  # 4 of its 7 rounds at 0.5
    assert found["hello_metrics_vs_bare"] == pytest.approx(0.99)     # the 3 rounds the bare app had
    assert found["hello_full_vs_bare"] is None                       # not measured: no row


def test_waiting_ratios_pair_the_rounds():
    t = {"sync": row(50, 60), "gthread 3x4": row(200, 240), "gevent": row(1000, 1200)}
    assert waiting_ratios(t) == {"waiting_gevent_vs_sync": pytest.approx(20.0),
                                 "waiting_gevent_vs_gthread": pytest.approx(5.0)}


def test_spreads_are_the_lowest_and_highest_round_of_each_pair():
    t = {"hello: + metrics": {"samples": [90.0, 99.0, 80.0]}, "hello: bare app": {"samples": [100.0, 100.0, 100.0]}}
    spreads = ratio_spreads(t)
    assert spreads["hello_metrics_vs_bare"] == [pytest.approx(0.8), pytest.approx(0.99)]
    assert "items_full_vs_bare" not in spreads  # not measured: no spread


def test_instruction_table_shows_kept_share_and_repeat():
    counts = {"hello": {"bare": [1000, 1001], "no-exemplars": [1100, 1100], "metrics": [1110, 1110],
                        "full": [1250, 1250]}}
    lines = instruction_lines({"counts": counts, "layout_full": {"hello": [1250, 1275, 1250, 1260]}})
    row = next(line for line in lines if line.startswith("| hello"))
    assert "| 1,000 |" in row and "| 0.901 |" in row and "| 0.800 |" in row and row.endswith("| 0.10% |")
    assert "by 2.00% (hello)" in lines[-1]
    assert instruction_lines(None) == []


def test_the_cpu_breakdown_splits_each_workers_time_and_adds_up():
    split = {"direct": {"gunicorn_workers": 300.0, "nginx_workers": 0.0},
             "through_nginx": {"gunicorn_workers": 360.0, "nginx_workers": 86.0}}
    lines = breakdown_lines(split, {"bare": 60.0, "full": 75.0})
    assert "| Gunicorn: parsing, sockets, its loop | 225 | 285 |" in lines
    assert "| our hooks (metrics, logs, access line) | 15 | 15 |" in lines
    assert lines[-1] == "| total | 300 | 446 |"  # each column: the workers' CPU, Nginx's included
    assert breakdown_lines(None, {"bare": 1.0, "full": 2.0}) == []  # no Nginx run: no section
