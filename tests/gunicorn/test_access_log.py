"""Gunicorn writes access lines in batches (flaskobs/batched_lines.py), uWSGI one at a time: real
workers must still print one line per request, promptly, and every line when they stop."""

import json
import signal
import uuid

import pytest
import requests
from support.gunicorn import Gunicorn
from support.uwsgi import Uwsgi, servers
from support.waiting import wait_until


def access_ids(server: Gunicorn) -> list[str]:
    ids = []
    for line in server.output().splitlines():
        if line.startswith("{") and '"gunicorn.access"' in line:
            ids.append(json.loads(line)["request_id"])
    return ids


def send(server: Gunicorn, n: int) -> list[str]:
    ids = [f"acc-{uuid.uuid4().hex}" for _ in range(n)]
    with requests.Session() as session:
        for request_id in ids:
            assert session.get(server.url + "/hello", headers={"X-Request-ID": request_id}, timeout=10).ok
    return ids


@pytest.mark.parametrize("worker_class", ["sync", "gthread", "gevent"])
def test_every_request_gets_one_access_line_within_the_interval(tmp_path, worker_class):
    server = Gunicorn(tmp_path, GUNICORN_WORKER_CLASS=worker_class, METRICS_ENABLED="false").start()
    try:
        ids = send(server, 60)
        wait_until(lambda: set(ids) <= set(access_ids(server)), 3, "an access line for every request")
        logged = access_ids(server)
        assert sorted(i for i in logged if i in set(ids)) == sorted(ids)  # each exactly once
    finally:
        server.stop()


def test_every_request_gets_one_access_line_under_uwsgi(tmp_path):
    server = Uwsgi(tmp_path, METRICS_ENABLED="false").start()
    try:
        ids = send(server, 60)
        wait_until(lambda: set(ids) <= set(access_ids(server)), 3, "an access line for every request")
        assert sorted(i for i in access_ids(server) if i in set(ids)) == sorted(ids)
    finally:
        server.stop()


@pytest.mark.parametrize("Server", servers())
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGQUIT], ids=["graceful", "quick"])
def test_lines_still_in_a_batch_are_written_when_the_server_stops(Server, tmp_path, sig):
    server = Server(tmp_path, METRICS_ENABLED="false").start()
    ids = send(server, 5)
    server.stop(sig)  # at once: the lines are still in the workers' batches
    assert set(ids) <= set(access_ids(server))
