"""Metrics under real Gunicorn workers: exact, monotonic, and cheap to scrape under churn."""

import json
import os
import signal
import statistics
import time

import pytest
import requests
from support.gunicorn import Gunicorn
from support.uwsgi import servers
from support.waiting import wait_until

HELLO = r'flask_http_request_duration_seconds_count\{method="GET",status="200",url_rule="/hello"\}'
EXITS = r'gunicorn_worker_exits_total\{{reason="{}"\}}'  # .format(reason)
ALL_EXITS = r"gunicorn_worker_exits_total\{.*\}"


def hit(server: Gunicorn, n: int) -> None:
    with requests.Session() as session:
        for _ in range(n):
            assert session.get(server.url + "/hello", timeout=10).status_code == 200


@pytest.mark.parametrize("Server", servers())
def test_counts_are_exact_across_recycled_workers(Server, tmp_path):
    # max_requests=7: every worker is replaced several times during the test.
    with Server(tmp_path, GUNICORN_WORKERS=3, GUNICORN_MAX_REQUESTS=7, GUNICORN_MAX_REQUESTS_JITTER=0) as server:
        hit(server, 210)
        text = server.scrape()
        assert server.value(HELLO, text) == 210
        assert server.value(r"flask_http_request_total\{method=\"GET\",status=\"200\"\}", text) == 210
        assert server.value(EXITS.format("recycled"), text) >= 25
        assert unplanned(server, text) == 0  # recycling is not a restart storm
        # Live workers' files plus one archive per type; dead workers leave nothing behind.
        assert_no_leftovers(server, workers=3)


def assert_no_leftovers(server: Gunicorn, workers: int) -> None:
    """Three types of file (counter, histogram, gauge) per live worker, plus one archive per type;
    an exit-<pid>.reason file lives only from a worker's exit until the master reaps it."""
    files = os.listdir(server.metrics_dir)
    assert len([f for f in files if f.endswith(".db")]) <= 3 * (workers + 1), files
    assert len([f for f in files if f.endswith(".reason")]) <= workers, files


def unplanned(server: Gunicorn, text: str) -> float:
    return sum(server.value(EXITS.format(reason), text) for reason in ("timeout", "killed", "error"))


def exact(server: Gunicorn, expected: float, timeout: float = 5.0) -> None:
    """The scraped count equals `expected` (polled briefly; the failure shows the scrape)."""
    try:
        wait_until(lambda: server.value(HELLO) == expected, timeout, f"the count to read {expected}", 0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{server.scrape()[:3000]}\n--- gunicorn ---\n{server.output()[-3000:]}") from None


@pytest.mark.parametrize("Server", servers())
def test_sigkilled_worker_loses_no_counts(Server, tmp_path):
    with Server(tmp_path, GUNICORN_WORKERS=2) as server:
        hit(server, 40)
        exact(server, 40)
        victim = sorted(server.workers())[0]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            text = server.scrape()
            exits, workers = server.value(ALL_EXITS, text), server.value("gunicorn_workers", text)
            return exits >= 1 and workers == 2
        wait_until(replaced, 20, "the killed worker to be replaced", 0.2)
        assert victim not in server.workers()
        text = server.scrape()
        assert server.value(EXITS.format("killed"), text) == 1, text  # what the OOM killer does
        assert server.value(ALL_EXITS, text) == 1
        exact(server, 40)  # the killed worker's counts survive it
        hit(server, 10)
        exact(server, 50)


@pytest.mark.parametrize("Server", servers())
def test_a_worker_killed_while_creating_its_metrics_file_breaks_no_scrape(Server, tmp_path):
    """prometheus_client creates a worker's file, then sizes it. A scrape in between read an empty
    file and failed (seen once in 250 restarts); a worker killed in between left it, unfoldable,
    for every later scrape. Here a live worker holds an empty file of a type it has not written
    yet, as it would in that moment, and is then killed."""
    with Server(tmp_path, GUNICORN_WORKERS=2) as server:
        hit(server, 20)
        exact(server, 20)
        victim = sorted(server.workers())[0]
        being_created = server.metrics_dir / f"summary_{victim}.db"  # no summary in this app
        being_created.touch()
        assert server.value(HELLO) == 20  # the scrape skips it
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: not being_created.exists(), 20, "the master to fold the killed worker", 0.2)
        wait_until(lambda: server.value("gunicorn_workers") == 2, 20, "the killed worker replaced", 0.2)
        assert server.proc.poll() is None, server.output()[-3000:]
        text = server.scrape()
        assert server.value(EXITS.format("killed"), text) == 1, text
        hit(server, 5)
        exact(server, 25)
        assert_no_leftovers(server, workers=2)


def median_scrape_seconds(server: Gunicorn, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        server.scrape()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@pytest.mark.parametrize("Server", servers())
def test_scrape_time_stays_bounded_after_hundreds_of_restarts(Server, tmp_path):
    # max_requests=1: each request recycles a worker, the worst case for file growth. uWSGI respawns a
    # worker in ~0.7 s here (Gunicorn: ~0.1 s): fewer restarts, the same bound on files.
    restarts = 240 if Server is Gunicorn else 40
    with Server(tmp_path, GUNICORN_WORKERS=3, GUNICORN_MAX_REQUESTS=1, GUNICORN_MAX_REQUESTS_JITTER=0) as server:
        hit(server, 10)
        before = median_scrape_seconds(server)
        hit(server, restarts)
        wait_until(lambda: server.value(ALL_EXITS) >= restarts and server.value("gunicorn_workers") == 3,
                   20, f"{restarts} recycled workers replaced", 0.2)
        after = median_scrape_seconds(server)
        text = server.scrape()
        assert server.value(HELLO, text) == restarts + 10
        assert server.value(ALL_EXITS, text) >= restarts
        assert_no_leftovers(server, workers=3)
        # Unfolded, the directory would hold 3 files per restart and scrapes would grow with it.
        assert after < before * 3 + 0.05, (before, after)


def test_a_stuck_worker_is_counted_as_a_timeout(tmp_path):
    # A stopped process sends no heartbeat: after GUNICORN_TIMEOUT the master aborts, then kills it.
    with Gunicorn(tmp_path, GUNICORN_WORKERS=2, GUNICORN_TIMEOUT=2) as server:
        victim = sorted(server.workers())[0]
        os.kill(victim, signal.SIGSTOP)
        wait_until(lambda: server.value(EXITS.format("timeout")) == 1, 30, "the stuck worker to time out", 0.2)
        text = server.scrape()
        assert server.value(ALL_EXITS, text) == 1, text
        assert victim not in server.workers()


def test_workers_the_master_stops_are_counted_as_stopped(tmp_path):
    # TTOU: one worker fewer, the way `scale down` and a reload end workers. Planned, not a storm.
    with Gunicorn(tmp_path, GUNICORN_WORKERS=3) as server:
        os.kill(server.proc.pid, signal.SIGTTOU)
        wait_until(lambda: server.value(EXITS.format("stopped")) == 1, 30, "one worker to be stopped", 0.2)
        text = server.scrape()
        assert unplanned(server, text) == 0, text
        assert server.value("gunicorn_workers", text) == 2


@pytest.mark.parametrize("Server", servers())
def test_replicas_label_their_metrics_and_logs(Server, tmp_path):
    """An orchestrator's replicas (DEPLOY_NODE, DEPLOY_REPLICA) are told apart on every series and
    log line, and summed by dropping the labels; without them nothing changes (the tests above)."""
    with Server(tmp_path, GUNICORN_WORKERS=2, DEPLOY_NODE="node-a", DEPLOY_REPLICA="2") as server:
        hit(server, 6)
        labelled = r'flask_http_request_total\{method="GET",node="node-a",replica="2",status="200"\}'
        wait_until(lambda: server.value(labelled) == 6, 5, "the labelled count to read 6", 0.2)
        text = server.scrape()
        samples = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert samples and all('node="node-a"' in line and 'replica="2"' in line for line in samples), samples[:5]
        lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        assert lines and all((line["node"], line["replica"]) == ("node-a", "2") for line in lines), lines[:3]


def test_metrics_host_chooses_the_address_metrics_listen_on(tmp_path):
    """METRICS_HOST=127.0.0.1 (the systemd install's value): the master's metrics answer on that
    address alone; another loopback address of this machine is refused. Control: the default
    (0.0.0.0) answers on both."""
    def answers(server: Gunicorn, address: str) -> bool:
        try:
            return requests.get(f"http://{address}:{server.metrics_port}/metrics", timeout=2).ok
        except requests.ConnectionError:
            return False
    with Gunicorn(tmp_path / "loopback", GUNICORN_WORKERS=1, METRICS_HOST="127.0.0.1") as server:
        assert answers(server, "127.0.0.1") and not answers(server, "127.0.0.2")
        assert f"metrics on 127.0.0.1:{server.metrics_port}" in server.output()
    with Gunicorn(tmp_path / "all", GUNICORN_WORKERS=1) as server:
        assert answers(server, "127.0.0.1") and answers(server, "127.0.0.2")
