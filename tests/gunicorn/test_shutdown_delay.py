"""GUNICORN_SHUTDOWN_DELAY: after SIGTERM the server keeps serving new requests for that long
(a balancer that finds replicas by DNS, as Nginx does on Swarm, needs that time to stop sending
here), then stops the way it does; without it, it stops at once. Under both servers: Gunicorn's
master holds the stop back itself, uWSGI's parent flaskobs-serve for it (delayed_stop.py)."""

import signal
import time

import pytest
import requests
from support.gunicorn import Gunicorn
from support.uwsgi import servers
from support.waiting import wait_until


def answered_after_term(server: Gunicorn, until: float) -> list[tuple[float, int | str]]:
    """Send SIGTERM, then requests on new connections until `until` seconds have passed or the
    master has exited: (seconds after the signal, status or error) of each."""
    outcomes = []
    server.proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    while time.monotonic() - sent < until and server.proc.poll() is None:
        asked = time.monotonic() - sent
        try:
            outcomes.append((asked, requests.get(server.url + "/hello", timeout=5).status_code))
        except requests.RequestException as exc:
            outcomes.append((asked, type(exc).__name__))
    return outcomes


@pytest.mark.parametrize("kind", servers())
def test_the_master_serves_through_the_delay_then_stops(tmp_path, kind):
    with kind(tmp_path, GUNICORN_WORKERS=2, GUNICORN_SHUTDOWN_DELAY=3) as server:
        # The worker gauge still reads the master's children (under uWSGI, no longer flaskobs-serve's).
        wait_until(lambda: server.value(r"gunicorn_workers(\{.*\})?") == 2, 10, "the gauge to read 2 workers")
        outcomes = answered_after_term(server, 2.5)
        stopped = server.stop(timeout=30)  # waits for the exit the countdown brings
    assert outcomes and all(status == 200 for _, status in outcomes), outcomes[-5:]
    assert outcomes[-1][0] > 2.0  # still answering after two of the three seconds
    assert server.proc.returncode == 0 and stopped < 15
    assert "still serving for 3 s" in server.output()


@pytest.mark.parametrize("kind", servers())
def test_a_second_sigterm_stops_at_once(tmp_path, kind):
    with kind(tmp_path, GUNICORN_WORKERS=1, GUNICORN_SHUTDOWN_DELAY=60) as server:
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the first signal's handler has run: the process is counting down, not stopping
        assert requests.get(server.url + "/hello", timeout=5).status_code == 200
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(20)
    assert time.monotonic() - started < 15 and server.proc.returncode == 0


@pytest.mark.parametrize("kind", servers())
def test_without_a_delay_the_server_stops_at_once(tmp_path, kind):
    """The negative control: the default is the server's own behaviour."""
    with kind(tmp_path, GUNICORN_WORKERS=2) as server:
        outcomes = answered_after_term(server, 2.5)
        server.proc.wait(15)
    # No answer after the first second (uWSGI's master then takes about 2 s more to exit, refusing).
    answered = [asked for asked, status in outcomes if status == 200]
    assert not answered or answered[-1] < 1.0, outcomes[-5:]
