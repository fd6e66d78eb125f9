"""Run an app under real uWSGI on loopback, as the image does with APP_SERVER=uwsgi: `flaskobs-serve`,
speaking HTTP (APP_PROTOCOL=http) so the tests' clients reach it as they reach Gunicorn.

The Gunicorn tests' settings carry over by name (GUNICORN_WORKERS -> UWSGI_WORKERS, ...), so one
test body proves a guarantee under both servers."""

from pathlib import Path

from flaskobs.healthcheck import uwsgi_status

from .gunicorn import TESTS, Gunicorn, child_pids

SAME_MEANING = {"GUNICORN_WORKERS": "UWSGI_WORKERS", "GUNICORN_MAX_REQUESTS": "UWSGI_MAX_REQUESTS",
                "GUNICORN_GRACEFUL_TIMEOUT": "UWSGI_WORKER_RELOAD_MERCY", "GUNICORN_TIMEOUT": "UWSGI_HARAKIRI",
                "GUNICORN_ACCESS_LOG": "ACCESS_LOG"}
# uWSGI spreads recycling by max // (10 x workers) per worker: none at the tests' small maximums.
NO_MEANING = ("GUNICORN_MAX_REQUESTS_JITTER",)


class Uwsgi(Gunicorn):
    """One uWSGI master with its workers and its metrics server, started by flaskobs-serve."""

    server_name = "uwsgi"

    def __init__(self, workdir: Path, app_module: str = "support.tinyapp:create_app()", cwd: Path = TESTS, **env):
        for name in NO_MEANING:
            env.pop(name, None)
        super().__init__(workdir, app_module, cwd, **{"APP_SERVER": "uwsgi", "APP_PROTOCOL": "http", **env})
        for gunicorn, uwsgi in SAME_MEANING.items():
            if gunicorn in self.env and uwsgi not in env:  # a test's own UWSGI_ value wins
                self.env[uwsgi] = self.env[gunicorn]

    def answers_ready(self) -> bool:
        if self.env.get("APP_PROTOCOL") == "uwsgi":  # as Nginx's uwsgi_pass, and the health check, ask
            return uwsgi_status(self.env, self.ready_path) == 200
        return super().answers_ready()

    def master(self) -> int:
        """uWSGI's master: flaskobs-serve itself, or its child when it holds a stop back
        (GUNICORN_SHUTDOWN_DELAY, flaskobs/delayed_stop.py)."""
        if b"flaskobs.serve" in Path(f"/proc/{self.proc.pid}/cmdline").read_bytes():
            children = child_pids(self.proc.pid)
            if len(children) == 1:
                return children.pop()
        return self.proc.pid

    def settled(self) -> bool:
        """Every worker is running and has loaded the app (uWSGI's "WSGI app 0 ... ready ... pid: N"
        line): a uWSGI worker takes about a second to load it after a respawn."""
        workers = self.workers()
        text = self.output()
        return len(workers) == int(self.env["UWSGI_WORKERS"]) and all(
            f"pid: {pid} (default app)" in text for pid in workers)

    def workers(self) -> set[int]:
        """The master's children but its metrics server."""
        found = set()
        for pid in child_pids(self.master()):
            try:
                if b"uwsgi_metrics" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(pid)
            except OSError:
                continue
        return found


def servers():
    """Both supported servers, for a test that proves one guarantee under each."""
    import pytest
    return [pytest.param(Gunicorn, id="gunicorn"), pytest.param(Uwsgi, id="uwsgi")]
