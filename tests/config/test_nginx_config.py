"""`nginx -t` on the rendered configuration, inside the Nginx image, for each way it can be set."""

import subprocess

import pytest
from support.docker import compose_config, image_present, image_vars, nginx_run, require_images, write_test_env

UPSTREAM_NGINX = "nginx:1.28.0"  # the default NGINX_IMAGE of compose/images.env


def render(image: str, certs, **env) -> subprocess.CompletedProcess:
    return subprocess.run(nginx_run(image, "--rm", "-v", f"{certs}:/etc/nginx/certs:ro", env=env,
                                    command=("nginx", "-T")), capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("nginx")
    write_test_env(directory)
    return directory / "certs"


SETTINGS = [
    {"TLS": "on"},
    {"TLS": "off"},
    {"TLS": "on", "APP_URL_PREFIX": "/shop", "PUBLIC_HTTPS_PORT": "443"},
    {"TLS": "off", "APP_URL_PREFIX": "/a/b-c", "RATE_LIMIT": "600r/m"},
    # A plain host's values (deploy/systemd/install.sh).
    {"TLS": "on", "NGINX_HTTP_LISTEN": "80", "NGINX_HTTPS_LISTEN": "443", "NGINX_INTERNAL_LISTEN": "127.0.0.1:8081",
     "NGINX_ACCESS_LOG": "/var/log/nginx/flaskobs-access.json", "PUBLIC_HTTPS_PORT": "443", "PUBLIC_HTTP_PORT": "80"},
]


@pytest.mark.parametrize("env", SETTINGS)
def test_config_is_valid_in_the_bundle_image(env, certs):
    require_images("NGINX_IMAGE")
    out = render(image_vars()["NGINX_IMAGE"], certs, **env)
    assert out.returncode == 0, out.stderr
    assert "ssl_protocols TLSv1.2 TLSv1.3" in out.stdout if env["TLS"] == "on" else "listen 8443 ssl;" not in out.stdout


@pytest.mark.registry_image
@pytest.mark.parametrize("env", SETTINGS)
def test_config_is_valid_in_the_upstream_image(env, certs):
    require_images()
    if not image_present(UPSTREAM_NGINX):
        pytest.skip(f"{UPSTREAM_NGINX} is not in the engine and no registry is reachable")
    out = render(UPSTREAM_NGINX, certs, **env)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"TLS": "maybe"}, "TLS=maybe is not allowed; allowed: on, off"),
    ({"APP_URL_PREFIX": "shop"}, "APP_URL_PREFIX=shop must start with '/'"),
    ({"APP_URL_PREFIX": "/shop/"}, "APP_URL_PREFIX=/shop/ must not end with '/'"),
    ({"APP_URL_PREFIX": "/sh op"}, "APP_URL_PREFIX=/sh op may hold only"),
    ({"RATE_LIMIT": "fast"}, "RATE_LIMIT=fast is not allowed"),
    ({"CLIENT_MAX_BODY_SIZE": "1 GB"}, "CLIENT_MAX_BODY_SIZE=1 GB is not allowed"),
    ({"PUBLIC_HTTPS_PORT": "https"}, "PUBLIC_HTTPS_PORT=https must be a port number (1-65535)"),
    ({"PUBLIC_HTTP_PORT": "70000"}, "PUBLIC_HTTP_PORT=70000 must be a port number (1-65535)"),
    ({"PUBLIC_HTTP_PORT": "0"}, "PUBLIC_HTTP_PORT=0 must be a port number (1-65535)"),
    ({"NGINX_HTTP_LISTEN": "eighty"}, "NGINX_HTTP_LISTEN=eighty is not a port or address:port"),
    ({"NGINX_INTERNAL_LISTEN": "localhost:8081"}, "NGINX_INTERNAL_LISTEN=localhost:8081 is not a port or address:port"),
    ({"NGINX_ACCESS_LOG": "access.json"}, "NGINX_ACCESS_LOG=access.json is not an absolute path"),
    ({"APP_PROTOCOL": "fastcgi"}, "APP_PROTOCOL=fastcgi is not allowed; allowed: http, uwsgi"),
    ({"APP_SERVER": "waitress"}, "APP_SERVER=waitress is not allowed; allowed: gunicorn, uwsgi"),
    ({"NGINX_FALLBACK_LISTEN": "0.0.0.0:8082"}, "NGINX_FALLBACK_LISTEN=0.0.0.0:8082 is not a loopback address:port"),
    ({"APP_PROTOCOL": "uwsgi"}, "APP_PROTOCOL=uwsgi needs APP_SERVER=uwsgi"),
])
def test_bad_settings_are_named(env, message, certs):
    require_images("NGINX_IMAGE")
    out = render(image_vars()["NGINX_IMAGE"], certs, **env)
    assert out.returncode == 2
    assert message in out.stderr


def test_tls_without_certificates_says_what_to_do(tmp_path):
    require_images("NGINX_IMAGE")
    out = render(image_vars()["NGINX_IMAGE"], tmp_path, TLS="on")
    assert out.returncode == 2
    assert "run `make init`" in out.stderr and "TLS=off" in out.stderr


def test_defaults_live_in_render_sh_alone(certs, tmp_path):
    """Nothing set: render.sh's defaults, which compose.yaml does not repeat (it passes .env as is)."""
    require_images("NGINX_IMAGE")
    out = render(image_vars()["NGINX_IMAGE"], certs)
    assert out.returncode == 0, out.stderr
    assert "server_name localhost 127.0.0.1;" in out.stdout and "listen 8443 ssl" in out.stdout
    assert "rate=20r/s" in out.stdout and "burst=40" in out.stdout and "client_max_body_size 1m;" in out.stdout
    nginx = compose_config(["proxy"], write_test_env(tmp_path))["services"]["nginx"]["environment"]
    for name in ("TLS", "CLIENT_MAX_BODY_SIZE", "RATE_LIMIT", "RATE_LIMIT_BURST"):
        assert nginx[name] == "", name


def test_the_fallback_page_moves_with_its_setting(certs):
    require_images("NGINX_IMAGE")
    out = render(image_vars()["NGINX_IMAGE"], certs, NGINX_FALLBACK_LISTEN="127.0.0.1:9182")
    assert out.returncode == 0, out.stderr
    assert "listen 127.0.0.1:9182;" in out.stdout and "server 127.0.0.1:9182 backup;" in out.stdout
    assert "8082" not in out.stdout


@pytest.mark.parametrize(("env", "passes"), [
    ({}, "proxy_pass http://flask_app/;"),
    ({"APP_SERVER": "uwsgi"}, "uwsgi_pass flask_app;"),  # its default follows the server, as the app's does
    ({"APP_SERVER": "uwsgi", "APP_PROTOCOL": "http"}, "proxy_pass http://flask_app/;"),
])
def test_the_protocol_follows_app_server(env, passes, certs):
    require_images("NGINX_IMAGE")
    out = render(image_vars()["NGINX_IMAGE"], certs, **env)
    assert out.returncode == 0, out.stderr
    assert passes in out.stdout
    assert ("uwsgi_pass" in out.stdout) == ("uwsgi_pass" in passes)


@pytest.mark.parametrize(("upstream", "servers"), [
    # A DNS name (Swarm's tasks.app) is followed by Nginx, not read once at load.
    ("tasks.app:8000", ["server tasks.app:8000 resolve max_fails=0;"] * 2),
    # What cannot change is listed as it is: a socket, an address, a name in /etc/hosts.
    ("unix:/run/app/app.sock", ["server unix:/run/app/app.sock max_fails=0;"] * 2),
    ("10.0.0.7:8000", ["server 10.0.0.7:8000 max_fails=0;"] * 2),
    ("app:8000", ["server app:8000 max_fails=0;"] * 2),  # nginx_run adds app to /etc/hosts
])
def test_app_servers_follow_dns_names_only(upstream, servers, certs):
    require_images("NGINX_IMAGE")
    # --network none: the rendered configuration loads without looking anything up.
    out = subprocess.run(nginx_run(image_vars()["NGINX_IMAGE"], "--rm", "--network", "none", "--dns", "192.0.2.53",
                                   "-v", f"{certs}:/etc/nginx/certs:ro", env={"APP_UPSTREAM": upstream},
                                   command=("nginx", "-T")), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [line.strip() for line in out.stdout.splitlines()]
    assert [line for line in lines if line.startswith("server ") and line.endswith("max_fails=0;")] == servers
    resolvers = [line for line in lines if line.startswith("resolver ")]
    assert resolvers == (["resolver 192.0.2.53 valid=1s ipv6=off;"] if "resolve" in servers[0] else [])


def test_a_dns_name_needs_an_nginx_that_follows_it(certs, tmp_path):
    """Stand-in for an older nginx: a script ahead of it on PATH that reports 1.26.3 for `nginx -v`."""
    require_images("NGINX_IMAGE")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "nginx").write_text('#!/bin/sh\n[ "$1" = -v ] && { echo "nginx version: nginx/1.26.3" >&2; exit 0; }\n'
                                'exec /usr/sbin/nginx "$@"\n')
    (shim / "nginx").chmod(0o755)
    out = subprocess.run(nginx_run(image_vars()["NGINX_IMAGE"], "--rm", "--network", "none", "-v", f"{shim}:/shim:ro",
                                   "-v", f"{certs}:/etc/nginx/certs:ro",
                                   env={"APP_UPSTREAM": "tasks.app:8000", "PATH": "/shim:/usr/sbin:/usr/bin:/bin"},
                                   command=("nginx", "-T")), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "APP_UPSTREAM=tasks.app:8000 is a host name, which nginx 1.26.3 cannot follow" in out.stderr
