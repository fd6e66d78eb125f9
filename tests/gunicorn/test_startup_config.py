"""A bad setting or APP_MODULE stops Gunicorn at once, with a message that names it."""

import os
import secrets
import subprocess
import sys

import pytest
from support.docker import ROOT

GOOD = {"APP_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48), "PATH": os.environ["PATH"],
        "APP_MODULE": "support.tinyapp:create_app()", "GUNICORN_WORKERS": "1"}
DEMO = {"APP_MODULE": "demo:create_app()"}


def start(env: dict, cwd=ROOT / "tests") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flaskobs.serve"], cwd=cwd, env={**GOOD, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("env", "message"), [
    ({"GUNICORN_WORKERS": "lots"}, "GUNICORN_WORKERS='lots' is not a whole number; allowed: 1..256"),
    ({"GUNICORN_WORKERS": "0"}, "GUNICORN_WORKERS=0 is out of range; allowed: 1..256"),
    ({"GUNICORN_WORKER_CLASS": "eventlet"},
     "GUNICORN_WORKER_CLASS='eventlet' is not allowed; allowed: sync, gthread, gevent"),
    ({"GUNICORN_HTTP_PARSER": "c"}, "GUNICORN_HTTP_PARSER='c' is not allowed; allowed: auto, python, fast"),
    ({"METRICS_PORT": "99999"}, "METRICS_PORT=99999 is out of range; allowed: 1..65535"),
    ({"METRICS_HOST": "localhost"}, "METRICS_HOST='localhost' is not an IP address; examples: 127.0.0.1"),
    ({"GUNICORN_SHUTDOWN_DELAY": "soon"}, "GUNICORN_SHUTDOWN_DELAY='soon' is not a whole number; allowed: 0..60"),
    ({"METRICS_EXEMPLARS": "sometimes"}, "METRICS_EXEMPLARS='sometimes' is not a boolean"),
    ({"METRICS_PORT": "8000", "PORT": "8000"}, "METRICS_PORT=8000 equals PORT"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' is not allowed"),
    # Gunicorn parses this one from the environment itself, with a message naming no variable.
    ({"FORWARDED_ALLOW_IPS": "nginx"}, "FORWARDED_ALLOW_IPS='nginx': 'nginx' is not an IP address or network"),
    ({"PROMETHEUS_MULTIPROC_DIR": "/proc/no/m"}, "PROMETHEUS_MULTIPROC_DIR='/proc/no/m'"),
    ({"APP_MODULE": "nosuch:app"}, "APP_MODULE='nosuch:app': no module 'nosuch'"),
    ({"APP_MODULE": "not a module"}, "APP_MODULE='not a module' is not module:variable or module:factory()"),
    ({"APP_MODULE": "support.tinyapp:nope"}, "APP_MODULE='support.tinyapp:nope': Failed to find attribute 'nope'"),
    ({"APP_MODULE": "support.tinyapp:create_app("}, "Failed to parse 'create_app(' as an attribute name"),
    ({"APP_MODULE": "support.tinyapp:broken_factory()"},
     "APP_MODULE='support.tinyapp:broken_factory()': the app failed to load: RuntimeError: the database is not there"),
    ({"APP_MODULE": "support.missing_dependency:app"}, "importing it failed: No module named 'not_installed_anywhere'"),
    ({"APP_MODULE": ""}, "APP_MODULE is not set"),
])
def test_bad_setting_stops_startup_naming_it(env, message):
    proc = start(env)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-3000:]


@pytest.mark.parametrize(("env", "message"), [
    ({"SECRET_KEY": ""}, "configuration error: SECRET_KEY is not set"),
    ({"SECRET_KEY": "changeme"}, "configuration error: SECRET_KEY is too weak"),
    ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL names a database this image cannot use"),
    ({"DATABASE_URL": "::::"}, "DATABASE_URL is not a valid SQLAlchemy URL"),
])
def test_the_apps_own_bad_settings_stop_startup_naming_them(env, message, tmp_path):
    proc = start({**DEMO, "DATABASE_URL": f"sqlite:///{tmp_path}/d.db", **env}, cwd=ROOT / "app")
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-3000:]
