"""APP_SERVER=uwsgi: real uWSGI masters and workers started by flaskobs-serve, on loopback.

What the Gunicorn tests prove under both servers (exact counts across recycling and SIGKILL,
bounded metric files under churn, lossless shipping across an outage and a restart, replica labels)
runs there, parametrized (support.uwsgi.servers). Here: what is uWSGI's own: its settings, its
lines in JSON, the uwsgi protocol Nginx speaks, and a graceful stop."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import pytest
import requests
from support.gunicorn import TESTS, Gunicorn, child_pids, free_port, stop_while_waiting
from support.uwsgi import Uwsgi
from support.waiting import wait_until

from flaskobs.healthcheck import uwsgi_packet

pytestmark = pytest.mark.skipif(not os.access(os.path.join(os.path.dirname(sys.executable), "uwsgi"), os.X_OK),
                                reason="uWSGI is not installed beside this Python (requirements-dev.txt pins it)")


def serve(tmp_path, **env) -> subprocess.CompletedProcess:
    """flaskobs-serve run to its end (a bad setting stops it): exit code and output."""
    server = Uwsgi(tmp_path, **env)
    return subprocess.run(server.command, cwd=server.cwd, env=server.env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("env", "message"), [
    ({"APP_SERVER": "waitress"}, "APP_SERVER='waitress' is not allowed; allowed: gunicorn, uwsgi"),
    ({"APP_PROTOCOL": "fastcgi"}, "APP_PROTOCOL='fastcgi' is not allowed; allowed: uwsgi, http"),
    ({"APP_SERVER": "gunicorn", "APP_PROTOCOL": "uwsgi"}, "APP_PROTOCOL=uwsgi needs APP_SERVER=uwsgi"),
    ({"APP_SERVER": "gunicorn", "APP_PROTOCOL": "spdy"}, "APP_PROTOCOL='spdy' is not allowed; allowed: http, uwsgi"),
    ({"UWSGI_WORKERS": "0"}, "UWSGI_WORKERS"),
    ({"UWSGI_HARAKIRI": "soon"}, "UWSGI_HARAKIRI"),
    ({"APP_MODULE": "nosuchmodule:app"}, "APP_MODULE='nosuchmodule:app': no module 'nosuchmodule'"),
])
def test_a_bad_setting_stops_start_naming_it(tmp_path, env, message):
    done = serve(tmp_path, **env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"configuration error: {message}" in done.stderr


def test_an_unknown_uwsgi_variable_stops_start_naming_it(tmp_path):
    """uWSGI reads UWSGI_X as its option --x; --strict refuses one it does not know (a typo)."""
    done = serve(tmp_path, UWSGI_WORKRES="3")
    assert done.returncode != 0
    assert "unknown config directive: workres" in done.stdout + done.stderr


def test_an_app_that_fails_to_load_stops_uwsgi_instead_of_respawning(tmp_path):
    done = serve(tmp_path, SECRET_KEY="short")  # noqa: S106  # a weak key on purpose
    assert done.returncode == 22, done.stdout[-2000:]
    assert "configuration error: SECRET_KEY is too weak" in done.stdout
    assert done.stdout.count("configuration error") <= 3 * 3  # each of 3 workers once, no respawn loop


def test_every_line_is_json_and_carries_the_request_id(tmp_path):
    with Uwsgi(tmp_path, GUNICORN_WORKERS=2) as server:
        ids = [f"uw-{uuid.uuid4().hex}" for _ in range(5)]
        for request_id in ids:
            response = requests.post(server.url + "/items", headers={"X-Request-ID": request_id}, timeout=10)
            assert response.status_code == 201
        assert requests.post(server.url + "/items", data="{", headers={"Content-Type": "application/json"},
                             timeout=10).status_code in (201, 400)

        def lines() -> list[dict]:
            return [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        wait_until(lambda: {(line.get("request_id"), line["logger"]) for line in lines()}
                   >= {(i, logger) for i in ids for logger in ("tinyapp", "gunicorn.access")}, 5,
                   "an app line and an access line per request")
    other = [line for line in server.output().splitlines() if line and not line.startswith("{")]
    # uWSGI prints these two while it parses its options, before its log encoder exists.
    assert all(line.startswith("[log-encoder] registered") for line in other), other[:5]
    found = lines()
    assert not any('"message":"{' in json.dumps(line) for line in found), "an app line wrapped in uWSGI's"
    own = [line for line in found if line["logger"] == "uwsgi"]
    assert own and all(line["service"] and line["@timestamp"] for line in own)
    assert any("spawned uWSGI worker" in line["message"] for line in own)
    access = [line for line in found if line["logger"] == "gunicorn.access" and line["request_id"] == ids[0]]
    assert len(access) == 1 and access[0]["status"] == 201 and access[0]["endpoint"] == "/items"
    assert not [line for line in found if line["logger"] == "uwsgi" and "POST /items" in line["message"]]


def test_a_graceful_stop_finishes_requests_in_flight(tmp_path):
    server = Uwsgi(tmp_path, GUNICORN_WORKERS=4, GUNICORN_GRACEFUL_TIMEOUT=10).start()
    took, statuses = stop_while_waiting(server, 4, 1.0)
    assert statuses == [200] * 4
    assert took < 10, f"stop took {took:.1f} s"
    assert server.proc.returncode == 0


def test_the_uwsgi_protocol_answers_and_the_healthcheck_speaks_it(tmp_path):
    socket_path = tmp_path / "app.sock"
    env = {"GUNICORN_BIND": f"unix:{socket_path}", "APP_PROTOCOL": "uwsgi", "APP_SERVER": "uwsgi"}
    server = Uwsgi(tmp_path, GUNICORN_WORKERS=1)
    server.env.update(env)
    server.socket_path, server.port = None, free_port()  # answering is checked below, not over HTTP
    server.ready_path = None
    server.workdir.mkdir(parents=True, exist_ok=True)
    server._log = open(server.log_path, "ab")  # closed by stop()
    server.proc = subprocess.Popen(server.command, cwd=server.cwd, env=server.env, stdout=server._log,
                                   stderr=subprocess.STDOUT)
    try:
        check = [sys.executable, "-m", "flaskobs.healthcheck"]
        wait_until(lambda: subprocess.run(check, env=server.env, cwd=TESTS, capture_output=True).returncode == 0,
                   30, "the health check to pass over the uwsgi protocol")
        import socket
        with socket.socket(socket.AF_UNIX) as raw:
            raw.connect(str(socket_path))
            raw.sendall(uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/hello", "QUERY_STRING": "",
                                      "SERVER_NAME": "x", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                                      "HTTP_X_REQUEST_ID": "uwsgi-proto-1"}))
            answer = b""
            while chunk := raw.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b"uwsgi-proto-1" in answer
        # Negative control: the same health check asking in HTTP gets no HTTP answer from this socket.
        http = subprocess.run(check, env={**server.env, "APP_SERVER": "gunicorn"}, cwd=TESTS, capture_output=True)
        assert http.returncode != 0
    finally:
        server.stop(signal.SIGINT)


def test_recycled_workers_are_counted_recycled_with_the_spread(tmp_path):
    """UWSGI_MAX_REQUESTS=20 on 2 workers: uWSGI spreads recycling by delta 1 (worker n after
    20 + (n - 1) requests). Each exit is `recycled`; none `stopped` (worker 1 was, by one request)."""
    exits = r'gunicorn_worker_exits_total\{{reason="{}"\}}'
    with Uwsgi(tmp_path, GUNICORN_WORKERS=2, UWSGI_MAX_REQUESTS=20) as server:
        with requests.Session() as session:
            for _ in range(130):
                assert session.get(server.url + "/hello", timeout=10).status_code == 200
        wait_until(lambda: server.value(exits.format("recycled")) >= 4, 20, "4 recycled workers", 0.2)
        text = server.scrape()
        assert server.value(exits.format("stopped"), text) == 0, text
        assert server.value(exits.format("killed"), text) == 0, text


def test_a_stop_right_after_a_start_or_a_respawn_is_not_lost(tmp_path):
    """A worker still loading the app ran the master's inherited handlers: the graceful stop's
    SIGHUP was lost, and the master waited for that worker with no time limit (7 stops in 8
    like the first five here hung, before flaskobs/uwsgi_boot_signals.py). Then the same right
    after a worker recycled (UWSGI_MAX_REQUESTS) and its successor loads."""
    stops = []
    for attempt in range(5):
        server = Uwsgi(tmp_path / str(attempt), GUNICORN_WORKERS=2, GUNICORN_GRACEFUL_TIMEOUT=10).start()
        stops.append(Gunicorn.stop(server, timeout=20))  # at once, not once every worker has loaded
    for attempt in range(3):
        server = Uwsgi(tmp_path / f"respawn-{attempt}", GUNICORN_WORKERS=1, GUNICORN_GRACEFUL_TIMEOUT=10,
                       UWSGI_MAX_REQUESTS=3).start()
        first = server.workers()
        with requests.Session() as session:
            while server.workers() == first:  # the third request recycles the worker
                assert session.get(server.url + "/hello", timeout=10).status_code in (200, 502)
        stops.append(Gunicorn.stop(server, timeout=20))
    assert all(took < 5 for took in stops), stops


def crash_loop_until_the_master_sleeps(server: Uwsgi) -> None:
    """Kill one worker at a time, the others serving, until uWSGI's master, asked to respawn faster
    than it allows, sleeps 2 s before the next respawn ("respawning too fast"): seen in /proc as it
    sleeps (its own log line reaches the log only after the sleep)."""
    master = server.master()

    def master_sleeping() -> bool:
        workers = sorted(server.workers())
        if workers:
            os.kill(workers[0], signal.SIGKILL)
        return wait_for(lambda: Path(f"/proc/{master}/wchan").read_text() == "hrtimer_nanosleep", 0.1)
    wait_until(master_sleeping, 30, "uWSGI's master to sleep before a respawn", 0)


def wait_for(condition, seconds: float) -> bool:
    """Whether `condition` holds within `seconds`, looked at without pause."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
    return False


def test_a_stop_while_the_master_waits_to_respawn_is_not_lost(tmp_path):
    """A SIGTERM to uWSGI's master runs its graceful stop inside the signal handler. One that came
    while the master slept before a respawn stopped the workers it knew; then the master forked the
    new worker, never told it, and waited for it until SIGKILL (each of these stops, sent during
    the sleep). flaskobs-serve asks through the master's FIFO, which the master reads between
    respawns (flaskobs/delayed_stop.py)."""
    stops = []
    for attempt in range(3):
        server = Uwsgi(tmp_path / f"crash-{attempt}", GUNICORN_WORKERS=3, GUNICORN_GRACEFUL_TIMEOUT=10).start()
        crash_loop_until_the_master_sleeps(server)
        stops.append(Gunicorn.stop(server, timeout=30))
    # The sleep's rest, the respawn, the new worker's load and stop: about 3 s. The lost stop: 30.
    assert all(took < 10 for took in stops), stops


def kill_one_and_catch_its_successor(server: Uwsgi, master: int) -> int:
    """SIGKILL a worker; the pid of the one the master forks in its place, seen at once."""
    known = child_pids(master)
    os.kill(min(server.workers()), signal.SIGKILL)
    young: set[int] = set()

    def forked() -> bool:
        young.update(child_pids(master) - known)
        return bool(young)
    wait_until(forked, 10, "the master to fork a worker", 0)
    return young.pop()


def exited(pid: int) -> bool:
    try:
        return b") Z" in Path(f"/proc/{pid}/stat").read_bytes()  # a zombie, not yet reaped
    except FileNotFoundError:
        return True


def test_a_graceful_stop_sent_to_a_worker_as_it_is_forked_is_kept(tmp_path):
    """A worker runs the master's handlers until its own are in place. A SIGHUP (the master's
    graceful stop) in its first milliseconds, before any of our code ran, ran the master's reload
    handler in the worker: it stopped the metrics server, waited for it, and the worker served on.
    Now the master forks with the stop signals blocked (flaskobs/uwsgi_fork_guard.py) until the
    worker takes them (uwsgi_boot_signals.py): the worker stops, and the metrics server serves."""
    with Uwsgi(tmp_path, GUNICORN_WORKERS=2) as server:
        master = server.master()
        for _ in range(3):
            wait_until(lambda: len(server.workers()) == 2, 20, "two workers", 0.05)
            young = kill_one_and_catch_its_successor(server, master)
            os.kill(young, signal.SIGHUP)
            wait_until(partial(exited, young), 10, f"worker {young}, stopped as it was forked, to exit", 0.05)
        assert "gunicorn_workers" in server.scrape()
