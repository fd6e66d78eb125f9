"""Metrics under real Gunicorn workers: exact, monotonic, and cheap to scrape under churn."""

import os
import signal
import statistics
import time

import requests
from support.gunicorn import Gunicorn
from support.waiting import wait_until

HELLO = r'flask_http_request_duration_seconds_count\{method="GET",status="200",url_rule="/hello"\}'


def hit(server: Gunicorn, n: int) -> None:
    with requests.Session() as session:
        for _ in range(n):
            assert session.get(server.url + "/hello", timeout=10).status_code == 200


def test_counts_are_exact_across_recycled_workers(tmp_path):
    # max_requests=7: every worker is replaced several times during the test.
    with Gunicorn(tmp_path, GUNICORN_WORKERS=3, GUNICORN_MAX_REQUESTS=7, GUNICORN_MAX_REQUESTS_JITTER=0) as server:
        hit(server, 210)
        text = server.scrape()
        assert server.value(HELLO, text) == 210
        assert server.value(r"flask_http_request_total\{method=\"GET\",status=\"200\"\}", text) == 210
        assert server.value("gunicorn_worker_exits_total", text) >= 25
        # Live workers' files plus one archive per type; dead workers leave nothing behind.
        assert len(os.listdir(server.metrics_dir)) <= 3 * (3 + 1)


def exact(server: Gunicorn, expected: float, timeout: float = 5.0) -> None:
    """The scraped count equals `expected` (polled briefly; the failure shows the scrape)."""
    try:
        wait_until(lambda: server.value(HELLO) == expected, timeout, f"the count to read {expected}", 0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{server.scrape()[:3000]}\n--- gunicorn ---\n{server.output()[-3000:]}") from None


def test_sigkilled_worker_loses_no_counts(tmp_path):
    with Gunicorn(tmp_path, GUNICORN_WORKERS=2) as server:
        hit(server, 40)
        exact(server, 40)
        victim = sorted(server.workers())[0]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            text = server.scrape()
            exits, workers = server.value("gunicorn_worker_exits_total", text), server.value("gunicorn_workers", text)
            return exits >= 1 and workers == 2
        wait_until(replaced, 20, "the killed worker to be replaced", 0.2)
        assert victim not in server.workers()
        exact(server, 40)  # the killed worker's counts survive it
        hit(server, 10)
        exact(server, 50)


def median_scrape_seconds(server: Gunicorn, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        server.scrape()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def test_scrape_time_stays_bounded_after_hundreds_of_restarts(tmp_path):
    # max_requests=1: each request recycles a worker, the worst case for file growth.
    with Gunicorn(tmp_path, GUNICORN_WORKERS=3, GUNICORN_MAX_REQUESTS=1, GUNICORN_MAX_REQUESTS_JITTER=0) as server:
        hit(server, 10)
        before = median_scrape_seconds(server)
        hit(server, 240)
        wait_until(lambda: server.value("gunicorn_worker_exits_total") >= 240 and server.value("gunicorn_workers") == 3,
                   20, "240 recycled workers replaced", 0.2)
        after = median_scrape_seconds(server)
        text = server.scrape()
        assert server.value(HELLO, text) == 250
        assert server.value("gunicorn_worker_exits_total", text) >= 240
        assert len(os.listdir(server.metrics_dir)) <= 3 * (3 + 1)
        # Unfolded, the directory would hold ~750 files here and scrapes would grow with it.
        assert after < before * 3 + 0.05, (before, after)
