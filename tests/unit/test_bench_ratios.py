"""bench/run.py's ratios: each the median of per-round ratios, round i of one variant against round i
of the other, also when the exemplar pair has more rounds than the rest (a run crashed on that)."""

import pytest

from bench.run import EXEMPLAR_PAIR, ratios, waiting_ratios


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
