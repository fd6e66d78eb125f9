"""APP_SERVER (gunicorn | uwsgi), checked without a stack: the Makefile refuses an unknown one,
and Compose (and the Swarm stack) hands the app and its proxy one protocol between them."""

import shutil
import subprocess

import pytest
from support.docker import ROOT, compose_config, write_test_env


def make(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_an_unknown_server_stops_make_naming_the_allowed_values():
    out = make(ROOT, "help", "APP_SERVER=waitress")
    assert out.returncode != 0 and "APP_SERVER=waitress is not allowed; allowed: gunicorn, uwsgi" in out.stderr
    good = make(ROOT, "help", "APP_SERVER=uwsgi")
    assert good.returncode == 0 and "APP_SERVER=uwsgi (one of" in good.stdout


def test_make_reads_app_server_from_env_file(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".env").write_text("APP_SERVER=uwsgi   # gunicorn | uwsgi\n")
    assert "APP_SERVER=uwsgi (one of" in make(tmp_path, "help").stdout
    (tmp_path / ".env").write_text("APP_SERVER=mod_wsgi\n")
    assert "APP_SERVER=mod_wsgi is not allowed; allowed: gunicorn, uwsgi" in make(tmp_path, "help").stderr


@pytest.fixture(scope="module")
def uwsgi_env(tmp_path_factory):
    return write_test_env(tmp_path_factory.mktemp("uwsgi-env"), APP_SERVER="uwsgi")


@pytest.mark.parametrize(("profile", "files", "proxy", "protocol"), [
    # Behind Nginx: the protocol is left to follow the server on both sides (uwsgi_conf.py, render.sh).
    ("proxy", (), "nginx", ""),
    ("full", (), "nginx", ""),
    # Clients, or Caddy, speak HTTP to it.
    ("app", ("compose/publish-app.yaml",), None, "http"),
    ("proxy", ("compose/proxy-caddy.yaml",), "caddy", "http"),
    # On Swarm Nginx reaches the app over the stack's network: HTTP, never the uwsgi protocol.
    ("full", ("compose/swarm.yaml",), "nginx", "http"),
])
def test_the_app_and_its_proxy_agree_on_the_server(uwsgi_env, tmp_path, profile, files, proxy, protocol):
    services = compose_config([profile], uwsgi_env, files)["services"]
    app = services["app"]["environment"]
    assert (app["APP_SERVER"], app["APP_PROTOCOL"]) == ("uwsgi", protocol)
    if proxy == "nginx":
        nginx = services["nginx"]["environment"]
        assert (nginx["APP_SERVER"], nginx["APP_PROTOCOL"]) == ("uwsgi", protocol)
    # Negative control: unset, both are Gunicorn's.
    default = compose_config([profile], write_test_env(tmp_path), files)["services"]
    assert default["app"]["environment"]["APP_SERVER"] == "gunicorn"
    if proxy == "nginx":
        assert default["nginx"]["environment"]["APP_SERVER"] == "gunicorn"
