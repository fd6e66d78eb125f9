"""deploy/systemd on a host run by systemd: a container with systemd 257 as PID 1, Debian's Nginx
and Python (a TEST DOUBLE of a plain Debian host: systemd-host.Dockerfile). install.sh runs as the
README says, from a copy of this checkout, with pip pointed at a local wheelhouse (no index is
reachable from the container). Then requests go through Nginx, and the tests read what systemd,
the journal, the metrics port and Nginx's access file show. Under each supported server: the
same tests with APP_SERVER=uwsgi (Nginx's uwsgi_pass to it on loopback)."""

import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from support.docker import ROOT, build_image, image_vars, require_images
from support.waiting import wait_until

pytestmark = pytest.mark.stack("systemd")
IMAGE = "flaskobs-test/systemd-host:local"
HERE = Path(__file__).parent


def build_host_image() -> None:
    with tempfile.TemporaryDirectory() as context:
        ctx = Path(context)
        shutil.copy(HERE / "systemd-host.Dockerfile", ctx / "Dockerfile")
        shutil.copy(HERE / "systemd-host-boot.sh", ctx / "boot.sh")
        shutil.copy(ROOT / "requirements.txt", ctx / "requirements.txt")
        shutil.copy(ROOT / "app/requirements.txt", ctx / "app-requirements.txt")
        if (ROOT / ".build/ca.pem").exists():
            shutil.copy(ROOT / ".build/ca.pem", ctx / "ca.pem")
        build_image(IMAGE, ctx, PYTHON_IMAGE=image_vars()["PYTHON_IMAGE"])


class Host:
    def __init__(self, name: str):
        self.name = name

    def sh(self, script: str, check: bool = True, **env: str) -> str:
        cmd = ["docker", "exec"]
        for key, value in env.items():
            cmd += ["-e", f"{key}={value}"]
        out = subprocess.run([*cmd, self.name, "sh", "-c", script], capture_output=True, text=True, timeout=300)
        if check and out.returncode != 0:
            raise AssertionError(f"{script!r} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out.stdout + out.stderr

    def install(self, **env: str) -> str:
        return self.sh("/opt/checkout/deploy/systemd/install.sh", PIP_INSTALL_ARGS="--no-index --find-links /wheels",
                       **env)

    def main_pid(self) -> int:
        return int(self.sh("systemctl show -p MainPID --value flaskobs-app").strip())

    def ready(self) -> bool:
        """The app answers /readyz through Nginx (it speaks uwsgi, not HTTP, on 8000 under uWSGI)."""
        return self.sh("curl -s -o /dev/null -w '%{http_code}' --cacert /etc/nginx/certs/tls.crt "
                       "https://localhost/readyz", check=False) == "200"

    def https(self, path: str, request_id: str) -> str:
        return self.sh(f"curl -sS --cacert /etc/nginx/certs/tls.crt -H 'X-Request-ID: {request_id}' "
                       f"'https://localhost{path}'")

    def hello_count(self) -> float:
        metrics = self.sh("curl -fsS http://127.0.0.1:9101/metrics")
        found = re.search(r'^flask_http_request_duration_seconds_count\{method="GET",status="200",'
                          r'url_rule="/api/hello"\} (\S+)$', metrics, re.M)
        return float(found.group(1)) if found else 0.0

    def journal(self, unit: str = "flaskobs-app") -> str:
        return self.sh(f"journalctl -u {unit} -o cat --no-pager")


@pytest.fixture(scope="module", params=["gunicorn", "uwsgi"])
def host(request):
    require_images("PYTHON_IMAGE")
    build_host_image()
    name = f"flaskobs-test-systemd-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
                    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                    "--security-opt", "systempaths=unconfined", "--cgroupns", "private", "--tmpfs", "/run",
                    "--tmpfs", "/run/lock", "--tmpfs", "/tmp", "-e", "container=docker", IMAGE],
                   check=True, capture_output=True)
    try:
        running = Host(name)
        wait_until(lambda: running.sh("systemctl is-system-running", check=False).strip() in ("running", "degraded"),
                   60, "systemd booted")
        # This checkout's files as a clone has them (tracked, and new ones git does not ignore).
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                               capture_output=True).stdout
        tar = subprocess.run(["tar", "--null", "-T", "-", "-cf", "-"], cwd=ROOT, input=files, check=True,
                             capture_output=True).stdout
        unpack = "mkdir -p /opt/checkout && tar -xf - -C /opt/checkout"
        subprocess.run(["docker", "exec", "-i", name, "sh", "-c", unpack], input=tar, check=True, capture_output=True)
        running.server = request.param
        running.installed = running.install(APP_SERVER=request.param)
        yield running
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_install_starts_the_app_under_systemd_behind_nginx(host):
    assert "install-systemd: done: https://localhost/" in host.installed
    assert host.sh("systemctl is-active flaskobs-app nginx").split() == ["active", "active"]
    assert host.sh("systemctl is-enabled flaskobs-app").strip() == "enabled"
    # The server's master said READY=1 (Type=notify), as the service's user, with the settings
    # file root's alone.
    assert host.sh(f"ps -o user= -p {host.main_pid()}").strip() == "flaskobs-app"
    main = host.sh(f"ps -o args= -p {host.main_pid()}")
    if host.server == "uwsgi":  # flaskobs-serve stays uWSGI's parent, to stop it safely (delayed_stop.py)
        assert "flaskobs-serve" in main
        master = host.sh(f"ps -o user:20=,args= --ppid {host.main_pid()}")
        assert master.split()[0] == "flaskobs-app" and "uWSGI master" in master, master
    else:
        assert "gunicorn" in main and "uWSGI" not in main
    assert f"APP_SERVER={host.server}" in host.sh("cat /etc/flaskobs-app/app.env")
    assert host.sh("stat -c '%a %U' /etc/flaskobs-app/app.env").strip() == "600 root"


def test_requests_through_nginx_are_counted_exactly_and_logged_with_their_id(host):
    before = host.hello_count()
    ids = [f"sysd-{uuid.uuid4().hex}" for _ in range(3)]
    for request_id in ids:
        assert host.https("/api/hello", request_id) == '{"message":"hello"}\n'
    assert wait_until(lambda: host.hello_count() == before + 3, 10, "the three requests counted")
    for request_id in ids:
        wait_until(lambda rid=request_id: f'"request_id":"{rid}"' in host.journal(), 10,
                   "the app's line in the journal")
        wait_until(lambda rid=request_id: rid in host.sh("cat /var/log/nginx/flaskobs-access.json"), 10,
                   "Nginx's access line")


def test_the_app_and_its_metrics_face_loopback_only(host):
    address = host.sh("hostname -I").split()[0]
    assert host.sh("curl -fsS -o /dev/null -w '%{http_code}' http://127.0.0.1:9101/metrics") == "200"
    for port in (8000, 9101, 8081):  # the app, its metrics, Nginx's internal server
        code = host.sh(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 http://{address}:{port}/", check=False)
        assert code.startswith("000"), (port, code)  # refused on the host's own address


def test_a_restart_starts_from_an_empty_metrics_directory(host):
    host.https("/api/hello", f"sysd-{uuid.uuid4().hex}")
    assert wait_until(lambda: host.hello_count() >= 1, 10, "a count")
    host.sh("systemctl restart flaskobs-app")
    wait_until(host.ready, 30, "the app back")
    assert host.hello_count() == 0  # RuntimeDirectory: a new, empty directory at every start


def test_a_killed_master_is_started_again(host):
    pid = host.main_pid()
    host.sh(f"kill -KILL {pid}")
    wait_until(lambda: host.main_pid() not in (0, pid) and
               host.sh("systemctl is-active flaskobs-app", check=False).strip() == "active", 30, "a new master")


def test_your_own_app_and_stop_finishing_requests_in_flight(host):
    """A second run installs another app (tinyapp, not the demo) over the first, keeping the
    secrets; then `systemctl stop` during a 3 s request waits for it, and it is answered."""
    secret = host.sh("grep ^SECRET_KEY= /etc/flaskobs-app/app.env")
    host.sh("mkdir -p /opt/tinyapp && touch /opt/tinyapp/requirements.txt")
    subprocess.run(["docker", "cp", str(ROOT / "tests/support/tinyapp.py"), f"{host.name}:/opt/tinyapp/tinyapp.py"],
                   check=True)
    out = host.install(APP_DIR="/opt/tinyapp", APP_MODULE="tinyapp:create_app()")
    assert "with APP_MODULE=tinyapp:create_app()" in out and "done:" in out
    assert host.sh("grep ^SECRET_KEY= /etc/flaskobs-app/app.env") == secret
    assert host.https("/hello", "tiny-1") == '{"message":"hello"}\n'

    request_id = f"inflight-{uuid.uuid4().hex}"
    host.sh(f"(curl -sS --cacert /etc/nginx/certs/tls.crt -H 'X-Request-ID: {request_id}' "
            f"-o /tmp/inflight.body -w '%{{http_code}}' 'https://localhost/wait?seconds=3' > /tmp/inflight.code "
            "2>&1 &)")
    wait_until(lambda: '"message": "waiting"' in host.journal() and request_id in host.journal(), 10,
               "the request in the app")
    started = time.monotonic()
    host.sh("systemctl stop flaskobs-app")
    took = time.monotonic() - started
    wait_until(lambda: host.sh("cat /tmp/inflight.code", check=False).strip() == "200", 10, "the answer")
    assert host.sh("cat /tmp/inflight.body") == '{"waited":3.0}\n'
    assert 1.0 < took < 40, took  # it waited for the request, within TimeoutStopSec
    assert host.sh("systemctl is-active flaskobs-app", check=False).strip() == "inactive"
    host.sh("systemctl start flaskobs-app")
