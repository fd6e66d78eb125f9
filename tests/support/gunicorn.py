"""Run the real app under real Gunicorn on loopback, as the image does (minus the container)."""

import os
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

from app.config import env_bool

from .docker import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class Gunicorn:
    """One Gunicorn master with its workers; the metrics directory is emptied first, like the entrypoint."""

    APP = ("-c", "app/gunicorn.conf.py", "app:create_app()")

    def __init__(self, workdir: Path, gunicorn_args: list[str] | None = None, cwd: Path = ROOT, **env: str | int):
        self.workdir = workdir
        self.gunicorn_args = list(gunicorn_args or self.APP)
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
        }
        self.env.update({k: str(v) for k, v in env.items()})
        self.port = int(self.env["GUNICORN_BIND"].rsplit(":", 1)[1])  # an override may name the port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Gunicorn":
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)
        self._log = open(self.log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *self.gunicorn_args], cwd=self.cwd,
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if requests.get(self.url + self.ready_path, timeout=1).ok and self.scrape_ready():
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer in {timeout} s:\n{self.output()}")

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

    def scrape_ready(self) -> bool:
        if not env_bool(self.env, "METRICS_ENABLED", True):  # parsed as the app parses it
            return True
        return bool(self.scrape())

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> set[int]:
        return child_pids(self.proc.pid)

    def scrape(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text

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
