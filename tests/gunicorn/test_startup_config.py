"""A bad setting stops Gunicorn at once, with a message that names the variable."""

import secrets
import subprocess
import sys

import pytest
from support.docker import ROOT

GOOD = {"APP_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48), "PATH": "/usr/bin:/bin"}


@pytest.mark.parametrize(("env", "message"), [
    ({"GUNICORN_WORKERS": "lots"}, "GUNICORN_WORKERS='lots' is not a whole number; allowed: 1..256"),
    ({"GUNICORN_WORKERS": "0"}, "GUNICORN_WORKERS=0 is out of range; allowed: 1..256"),
    ({"GUNICORN_WORKER_CLASS": "gevent"}, "GUNICORN_WORKER_CLASS='gevent' is not allowed; allowed: sync, gthread"),
    ({"METRICS_PORT": "99999"}, "METRICS_PORT=99999 is out of range; allowed: 1..65535"),
    ({"METRICS_PORT": "8000", "PORT": "8000"}, "METRICS_PORT=8000 equals PORT"),
    ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL names a database this image cannot use"),
    ({"DATABASE_URL": "::::"}, "DATABASE_URL is not a valid SQLAlchemy URL"),
    ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
    ({"PROMETHEUS_MULTIPROC_DIR": "/nonexistent/m"}, "PROMETHEUS_MULTIPROC_DIR='/nonexistent/m' is not a directory"),
])
def test_bad_setting_stops_startup_naming_the_variable(env, message):
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "app/gunicorn.conf.py", "app:create_app()"],
                          cwd=ROOT, env={**GOOD, **env}, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-2000:]
