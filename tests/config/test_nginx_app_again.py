"""Nginx's own 502 of the app's location goes to @app_again (app-locations.conf): one more
attempt for an idempotent request; any other method gets the JSON 502, as every error Nginx
makes itself does. The app here is a TEST DOUBLE speaking TCP: it reads each request and closes
the connection without an answer, so Nginx makes the 502 itself."""

import subprocess
import uuid

import pytest
import requests
from support.docker import image_vars, require_images, start_plain_nginx

# Reads a request, answers nothing, closes: what a replica that stops mid-request looks like.
CLOSER = """
import socket
server = socket.create_server(("0.0.0.0", 8000))
while True:
    conn, _ = server.accept()
    conn.recv(65536)
    conn.close()
"""


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def nginx():
    require_images("NGINX_IMAGE", "PYTHON_IMAGE")
    images, name = image_vars(), f"flaskobs-test-again-{uuid.uuid4().hex[:8]}"
    docker("network", "create", name)
    try:
        docker("run", "-d", "--name", f"{name}-app", "--network", name, images["PYTHON_IMAGE"], "python3", "-c", CLOSER)
        address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", f"{name}-app")
        yield start_plain_nginx(name, "--network", name, wait=20, poll_timeout=2, APP_UPSTREAM=f"{address}:8000")
    finally:
        subprocess.run(["docker", "rm", "-f", name, f"{name}-app"], capture_output=True)
        subprocess.run(["docker", "network", "rm", name], capture_output=True)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "GET"])
def test_a_502_nginx_makes_is_json_for_every_method(nginx, method):
    response = requests.request(method, nginx + "/api/items", data=b"{}", timeout=20,
                                headers={"X-Request-ID": f"again-{method}"})
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "application/json", response.text[:200]
    assert response.json() == {"error": "the app is not answering", "status": 502, "request_id": f"again-{method}"}
