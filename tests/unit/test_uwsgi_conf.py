"""uWSGI's command line from the settings (flaskobs/uwsgi_conf.py); tests/gunicorn/test_uwsgi_server.py
runs it. Here: the choices that depend on a setting, read from the command itself."""

import pytest

from flaskobs.settings import ConfigError
from flaskobs.uwsgi_conf import command

BASE = {"APP_MODULE": "flaskobs:init_app", "SECRET_KEY": "k" * 48, "APP_ENV": "production",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics"}  # nosec B108  # never created: only named


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_a_unix_socket_is_opened_to_nginx_and_removed_on_exit():
    args = command({**BASE, "GUNICORN_BIND": "unix:/srv/app-socket/app.sock"}, "uwsgi")
    assert option(args, "--uwsgi-socket") == "/srv/app-socket/app.sock"
    assert "--chmod-socket=666" in args and "--vacuum" in args


def test_http_says_it_closes_each_connection():
    args = command({**BASE, "APP_PROTOCOL": "http", "GUNICORN_BIND": "127.0.0.1:8000"}, "uwsgi")
    assert option(args, "--http-socket") == "127.0.0.1:8000"
    assert option(args, "--add-header") == "Connection: close"
    assert "--uwsgi-socket" not in args


def test_recycling_is_spread_and_not_held_back_by_worker_age():
    args = command({**BASE, "UWSGI_WORKERS": "4", "UWSGI_MAX_REQUESTS": "1000"}, "uwsgi")
    assert (option(args, "--max-requests"), option(args, "--max-requests-delta")) == ("1000", "25")
    assert option(args, "--min-worker-lifetime") == "0"
    assert "--max-requests" not in command({**BASE, "UWSGI_MAX_REQUESTS": "0"}, "uwsgi")


def test_the_metrics_server_runs_only_with_metrics():
    daemon = option(command(BASE, "uwsgi"), "--attach-daemon2")
    assert daemon.startswith("cmd=exec ") and "flaskobs.uwsgi_metrics 0.0.0.0 9101" in daemon
    assert "--attach-daemon2" not in command({**BASE, "METRICS_ENABLED": "false"}, "uwsgi")


@pytest.mark.parametrize(("env", "name"), [({"APP_PROTOCOL": "fcgi"}, "APP_PROTOCOL"),
                                           ({"UWSGI_THREADS": "0"}, "UWSGI_THREADS"),
                                           ({"PORT": "9101"}, "METRICS_PORT")])
def test_a_bad_setting_is_named(env, name):
    with pytest.raises(ConfigError, match=name):
        command({**BASE, **env}, "uwsgi")
