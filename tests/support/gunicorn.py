"""Run an app under real Gunicorn on loopback, as the image does (minus the container):
`flaskobs-serve` with APP_MODULE, from the app's folder."""

import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from flaskobs.settings import env_bool

from .docker import ROOT
from .waiting import wait_until

TESTS = ROOT / "tests"


_handed_out: set[int] = set()


def ephemeral_ports() -> range:
    """The kernel's range for port 0 binds and outgoing connections."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def free_port() -> int:
    """A loopback port nothing listens on, for a server started later. Chosen below the ephemeral range
    and never handed out twice by this process: two bind(0) calls in a row can return the same port, and
    an outgoing connection can take an ephemeral port before the server binds it (CI saw both a master's
    metrics port taken that way)."""
    top = ephemeral_ports().start
    for _ in range(1000):
        port = random.randrange(max(1024, top - 12000), top)  # nosec B311 -- a port, not a secret
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port below {top}")


def child_pids(pid: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.add(int(entry))
    return children


def unix_get(path: str, url_path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET over a Unix socket, as Nginx reaches the app in Compose: (status, body)."""
    from flaskobs.healthcheck import connection
    conn = connection({"GUNICORN_BIND": f"unix:{path}"})
    try:
        conn.request("GET", url_path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Gunicorn:
    """One Gunicorn master with its workers, started by flaskobs-serve (which empties the
    metrics directory). By default it serves tests/support/tinyapp.py, which is not the demo."""

    SERVE = (sys.executable, "-m", "flaskobs.serve")

    def __init__(self, workdir: Path, app_module: str = "support.tinyapp:create_app()", cwd: Path = TESTS,
                 command: list[str] | None = None, **env: str | int):
        self.workdir = workdir
        self.command = list(command or self.SERVE)
        self.cwd = cwd
        self.port = free_port()
        self.metrics_port = free_port()
        self.metrics_dir = workdir / "metrics"
        self.log_path = workdir / f"gunicorn-{self.port}.log"
        self.env = {
            **os.environ,
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": f"sqlite:///{workdir}/app.db",
            "LOG_QUEUE_DIR": str(workdir / "log-queue"),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "METRICS_PORT": str(self.metrics_port),
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "GUNICORN_WORKERS": "3",
            "GUNICORN_MAX_REQUESTS": "0",
            "GUNICORN_GRACEFUL_TIMEOUT": "10",
            "LOGSTASH_HOST": "",
            "APP_MODULE": app_module,
        }
        self.env.update({k: str(v) for k, v in env.items()})
        bind = self.env["GUNICORN_BIND"]  # an override may name the port, or a Unix socket
        self.socket_path = bind.removeprefix("unix:") if bind.startswith("unix:") else None
        self.port = None if self.socket_path else int(bind.rsplit(":", 1)[1])
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Gunicorn":
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.command != list(self.SERVE):  # flaskobs-serve empties it; other set-ups are told to
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            self.metrics_dir.mkdir(parents=True)
        self._log = open(self.log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

        def answering() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{self.output()}")
            try:
                return self.answers_ready() and self.scrape_ready()
            except (requests.RequestException, OSError):
                return False
        try:
            wait_until(answering, timeout, "gunicorn to answer")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()}") from None
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> float:
        """Stop the master; return how long it took."""
        started = time.monotonic()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return time.monotonic() - started

    ready_path = "/healthz"

    def answers_ready(self) -> bool:
        if self.socket_path:
            return unix_get(self.socket_path, self.ready_path)[0] == 200
        return requests.get(self.url + self.ready_path, timeout=1).ok

    def scrape_ready(self) -> bool:
        if not env_bool(self.env, "METRICS_ENABLED", True):  # parsed as the app parses it
            return True
        return bool(self.scrape())

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> set[int]:
        return child_pids(self.proc.pid)

    def settled(self) -> bool:
        """Every worker the server keeps is running (Gunicorn's workers load the tiny app in tens
        of milliseconds after the fork): the next request is taken at once, not left waiting in
        the listen queue for a respawning worker."""
        return len(self.workers()) == int(self.env["GUNICORN_WORKERS"])

    def scrape(self) -> str:
        answer = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10)
        answer.raise_for_status()  # a failed scrape is a failure, never a page without the series
        return answer.text

    def value(self, pattern: str, text: str | None = None) -> float:
        """Sum of the samples whose line matches `pattern` (a regex on 'name{labels}')."""
        text = self.scrape() if text is None else text
        total, found = 0.0, False
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                if re.fullmatch(pattern, name):
                    total += float(value)
                    found = True
        return total if found else 0.0

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def stop_while_waiting(server: Gunicorn, count: int, seconds: float) -> tuple[float, list[int]]:
    """Stop `server` (SIGTERM) while `count` GETs of the tiny app's /wait?seconds=... are in flight, each
    on a connection its client closes after the answer: (how long the stop took, their statuses)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(requests.get, f"{server.url}/wait", params={"seconds": seconds}, timeout=30,
                               headers={"X-Request-ID": f"inflight-{i}", "Connection": "close"})
                   for i in range(count)]
        wait_until(lambda: server.output().count('"message": "waiting"') == count, 10,
                   f"{count} requests in flight", 0.05)
        took = server.stop()
        return took, [f.result().status_code for f in futures]
