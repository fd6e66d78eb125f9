"""The Swarm stack on a real 3-node swarm (Docker engines in containers, tests/support/swarm.py),
every node a manager (so the swarm outlives its leader): node 2 runs the monitoring services,
nodes 1 (the first leader) and 3 take outside traffic. The stack file is the one
`make swarm-deploy` writes (compose.yaml + compose/swarm.yaml, through scripts/swarm_stack.py);
Grafana's and Elastic's images are not here and are left out of it.
"""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from support.docker import ROOT, compose_config, env_files, image_vars, require_engine, write_test_env
from support.swarm import Swarm, run
from support.waiting import wait_until

# The test's own certificate names localhost, not the nodes' addresses: not verified here.
pytestmark = [pytest.mark.stack("swarm"),
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]
APP_V1, APP_V2 = "flaskobs-test/app-swarm:v1", "flaskobs-test/app-swarm:v2"
# v1's app, started as a process that never answers: its health check fails.
APP_BROKEN = "flaskobs-test/app-swarm:broken"
# A JsonLinesSink TEST DOUBLE (tests/support/sink.py) standing in for Logstash's tcp/json_lines
# input: the app ships to it as to Logstash; it prints each event, read back by `service logs`.
SINK = "flaskobs-test/log-sink:local"
# Seconds after a node is lost within which requests through the other Nginx may fail: those it
# sends to the lost replica's address until Swarm drops it from DNS (at the latest when the node
# is marked Down, about 15 s), plus Nginx's re-resolve interval (1 s) and connect timeout (2 s).
# Measured here: 1 request of 3500-7000, about 4 s after the loss (4 runs; the leader or not).
LOST_NODE_WINDOW = 18
HOST = {"Host": "localhost"}


def compose(env_file, *args: str, **env: str) -> subprocess.CompletedProcess:
    cmd = ["docker", "compose", "-p", "flaskobs-swarm-test", "--project-directory", "compose"]
    for path in [*env_files(), str(env_file)]:
        cmd += ["--env-file", path]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env={**os.environ, "FLASKOBS_DIR": str(ROOT), "DOCKER_BUILDKIT": "0", **env})


def build_app(env_file, image: str, version: str) -> None:
    out = compose(env_file, "-f", "compose/compose.yaml", "--profile", "app", "build", "app-build", "app",
                  APP_IMAGE=image, APP_VERSION=version)
    assert out.returncode == 0, out.stderr[-3000:]


def build_image(tag: str, context: Path, dockerfile: str, files: tuple[Path, ...] = ()) -> None:
    """A test image from `dockerfile`, with `files` beside it in a fresh `context` folder."""
    context.mkdir()
    for path in files:
        shutil.copy(path, context / path.name)
    (context / "Dockerfile").write_text(dockerfile)
    run("docker", "build", "-q", "-t", tag, str(context), env={**os.environ, "DOCKER_BUILDKIT": "0"})


# In the stack file, but their images are not here (tests/config/test_swarm_stack.py checks them).
NO_IMAGE = ("grafana", "elasticsearch", "setup", "logstash", "kibana")


def stack_file(env_file, out_dir) -> dict:
    """What `make swarm-stack PROFILE=full` writes, less the services whose images are not here,
    plus the log sink under the name the app and nginx-log-shipper ship to (LOGSTASH_HOST)."""
    config = compose_config(["full"], env_file, ("compose/swarm.yaml",))
    render = subprocess.run(["python3", "scripts/swarm_stack.py", "--out", str(out_dir)], input=json.dumps(config),
                            capture_output=True, text=True, cwd=ROOT)
    assert render.returncode == 0, render.stderr
    stack = json.loads((out_dir / "stack.yml").read_text())
    for name in NO_IMAGE:
        del stack["services"][name]
    stack["services"]["logsink"] = {"image": SINK, "networks": ["default"], "deploy": {
        "replicas": 1, "endpoint_mode": "dnsrr",
        "placement": {"constraints": ["node.labels.flaskobs.monitoring == true"]}}}
    (out_dir / "stack.yml").write_text(json.dumps(stack))
    return stack


class Cluster:
    def __init__(self, swarm: Swarm):
        self.swarm = swarm
        self.monitoring = swarm.names[1]
        self.edge = [swarm.names[0], swarm.names[2]]

    def docker(self, *args: str, **kw) -> subprocess.CompletedProcess:
        # Any manager answers; the monitoring node is never taken down.
        return self.swarm.docker(self.monitoring, *args, **kw)

    def url(self, node: str, path: str = "/") -> str:
        return f"https://{self.swarm.ip(node)}:8443{path}"

    def query(self, expr: str) -> list[dict]:
        r = requests.get(f"http://{self.swarm.ip(self.monitoring)}:9090/api/v1/query", params={"query": expr},
                         timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def running(self, service: str) -> list[tuple[str, str]]:
        """(task name, node) of the service's running tasks; none while the managers elect a leader."""
        out = self.docker("service", "ps", f"flaskobs_{service}", "--filter", "desired-state=running",
                          "--format", "{{.Name}} {{.Node}} {{.CurrentState}}", check=False).stdout.split("\n")
        return [tuple(line.split()[:2]) for line in out if " Running " in f" {line} "]

    def replicas(self) -> set[tuple[str, str]]:
        """(node, task slot) of the app's running replicas: the labels it puts on its metrics and logs."""
        return {(node, task.rsplit(".", 1)[1]) for task, node in self.running("app")}

    def leader(self) -> str | None:
        out = self.docker("node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}", check=False).stdout
        return next((line.split()[0] for line in out.splitlines() if line.endswith(" Leader")), None)

    def replicas_healthy(self, service: str, count: int) -> bool:
        out = self.docker("service", "ls", "--filter", f"name=flaskobs_{service}", "--format", "{{.Replicas}}").stdout
        return out.split()[:1] == [f"{count}/{count}"] and len(self.running(service)) == count


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_engine()
    images = image_vars()
    for name in ("NGINX_IMAGE", "PROMETHEUS_IMAGE", "ALERTMANAGER_IMAGE", "BLACKBOX_EXPORTER_IMAGE"):
        if subprocess.run(["docker", "image", "inspect", images[name]], capture_output=True).returncode:
            pytest.skip(f"image not in the engine and no registry to pull from: {name}={images[name]}")
    work = tmp_path_factory.mktemp("swarm")
    env_file = write_test_env(work, HTTP_BIND="0.0.0.0", HTTP_PORT="8080", HTTPS_BIND="0.0.0.0", HTTPS_PORT="8443",
                              PROMETHEUS_BIND="0.0.0.0", PROMETHEUS_PORT="9090", GUNICORN_WORKERS="2",
                              # The load below is one client per Nginx, back to back (about 250
                              # requests/s here): the default per-client limit (20r/s) would answer
                              # most with 429s, which read as failures.
                              RATE_LIMIT="600r/s", RATE_LIMIT_BURST="600", APP_IMAGE=APP_V1,
                              LOGSTASH_HOST="logsink", LOG_SHIP_ACCESS="true")
    build_app(env_file, APP_V1, "v1")
    build_app(env_file, APP_V2, "v2")
    build_image(APP_BROKEN, work / "broken",
                f'FROM {APP_V1}\nCMD ["python3", "-c", "import time; time.sleep(1e9)"]\n')
    build_image(SINK, work / "sink", f'FROM {images["PYTHON_IMAGE"]}\nCOPY sink.py sink_server.py /sink/\n'
                'WORKDIR /sink\nCMD ["python3", "-u", "/sink/sink_server.py", "5959"]\n',
                (ROOT / "tests/support/sink.py", ROOT / "tests/support/sink_server.py"))
    stack_file(env_file, work / "out")
    swarm = Swarm(nodes=3, managers=3)
    try:
        swarm.start()
        cluster = Cluster(swarm)
        swarm.label(cluster.monitoring, "flaskobs.monitoring=true")
        for name in cluster.edge:
            swarm.label(name, "flaskobs.ingress=true")
        swarm.load(APP_V1, APP_V2, APP_BROKEN, SINK, images["NGINX_IMAGE"], images["PROMETHEUS_IMAGE"],
                   images["ALERTMANAGER_IMAGE"], images["BLACKBOX_EXPORTER_IMAGE"])
        cluster.docker("stack", "deploy", "--resolve-image", "never", "-c", str(work / "out/stack.yml"), "flaskobs")
        for service, count in (("app", 3), ("nginx", 2), ("prometheus", 1), ("logsink", 1), ("nginx-log-shipper", 2)):
            wait_until(lambda s=service, c=count: cluster.replicas_healthy(s, c), 240, f"{count} healthy {service}")
        # Each Nginx finds the replicas at its next lookup of tasks.app (Swarm adds a task once healthy).
        for node in cluster.edge:
            wait_until(lambda n=node: get(cluster.url(n, "/api/items")).status_code == 200, 30, f"{node}'s Nginx")
        yield cluster
    finally:
        swarm.close()


def get(url: str, headers: dict | None = None) -> requests.Response:
    # The test's own certificate names localhost, not the node's address: not verified.
    return requests.get(url, headers={**HOST, **(headers or {})}, verify=False, timeout=10)  # noqa: S501  # nosec B501


def flask_total(cluster: Cluster) -> float | None:
    # Every series a replica ever had in the last 15 minutes, at its last value: a replaced
    # replica's counts stay in the total (rate and increase handle its reset the same way).
    return cluster.value('sum(last_over_time(flask_http_request_duration_seconds_count{url_rule="/api/items"}[15m]))')


def test_replicas_spread_and_every_request_is_counted_once(cluster):
    nodes = {node for _, node in cluster.running("app")}
    assert len(nodes) >= 2, cluster.running("app")
    # Prometheus scrapes every replica, labelled by node and replica.
    wait_until(lambda: len(cluster.query('up{job="flask"} == 1')) == 3, 60, "three app targets up")
    info = cluster.query("flask_app_info")
    assert {(s["metric"]["node"], s["metric"]["replica"]) for s in info} == cluster.replicas()
    before = flask_total(cluster) or 0
    sent = 0
    for node in cluster.edge:  # both Nginx replicas
        for _ in range(30):
            assert get(cluster.url(node, "/api/items")).status_code == 200
            sent += 1
    try:
        wait_until(lambda: flask_total(cluster) == before + sent, 60, f"Prometheus to count {before + sent}")
    except AssertionError as exc:  # which replica's count is off, and were its targets up
        series = cluster.query('last_over_time(flask_http_request_duration_seconds_count{url_rule="/api/items"}[15m])')
        raise AssertionError(f"{exc}\n{[(s['metric'], s['value'][1]) for s in series]}\n"
                             f"{cluster.query('up')}") from None
    per_replica = cluster.query(
        'sum by (node, replica) (flask_http_request_duration_seconds_count{url_rule="/api/items"})')
    assert len(per_replica) >= 2, per_replica  # the requests were spread, not all on one replica
    # The dashboard's per-replica panel shows each replica by node and slot.
    dashboard = json.loads((ROOT / "grafana/dashboards/flask-service.json").read_text())
    expr = next(p["targets"][0]["expr"] for p in dashboard["panels"] if p["title"] == "Request rate by replica")
    replicas = cluster.replicas()
    # (a rate needs two scrapes of a series: a replica's first request made its series)
    wait_until(lambda: {(s["metric"]["node"], s["metric"]["replica"])
                        for s in cluster.query(expr.replace("$__rate_interval", "1m"))} == replicas,
               60, "the panel to show every replica")


def sink_events(cluster: Cluster) -> list[dict]:
    """Every event the log sink (the TEST DOUBLE standing in for Logstash) received so far."""
    out = cluster.docker("service", "logs", "--raw", "flaskobs_logsink").stdout
    return [json.loads(line.split("SINK ", 1)[1]) for line in out.splitlines() if "SINK " in line]


def send_ids(cluster: Cluster, prefix: str, count: int) -> list[str]:
    """`count` requests with fresh request ids, through each Nginx in turn; their ids."""
    ids = [f"{prefix}-{uuid.uuid4().hex}" for _ in range(count)]
    for i, request_id in enumerate(ids):
        node = cluster.edge[i % len(cluster.edge)]
        assert get(cluster.url(node, "/api/items"), {"X-Request-ID": request_id}).status_code == 200
    return ids


def events_for_all(cluster: Cluster, ids: list[str], logger: str) -> list[dict] | None:
    """The sink's events from `logger` for these request ids, once every id has one; else None."""
    got = [e for e in sink_events(cluster) if e.get("request_id") in ids and e.get("logger") == logger]
    return got if {e["request_id"] for e in got} == set(ids) else None


def test_every_replica_ships_its_logs(cluster):
    """Each request's access event reaches the pipeline once, from the replica that answered,
    named by node and replica; every replica ships from its own queue."""
    ids = send_ids(cluster, "swarm", 30)
    events = wait_until(lambda: events_for_all(cluster, ids, "gunicorn.access"), 60,
                        "an access event per request at the sink", 1)
    assert len(events) == len(ids), "some events arrived twice"
    replicas = cluster.replicas()
    shippers = {(e["node"], e["replica"]) for e in events}
    assert len(shippers) >= 2 and shippers <= replicas, (shippers, replicas)


def test_nginx_access_logs_reach_the_pipeline_from_every_ingress_node(cluster):
    """Each Nginx writes its access log on its own node; nginx-log-shipper there sends each line
    once, tagged for the pipeline's Nginx filter, and picks up where it stopped after a restart."""
    first = send_ids(cluster, "edge", 20)
    events = wait_until(lambda: events_for_all(cluster, first, "nginx.access"), 60,
                        "an Nginx access event per request", 1)
    assert len(events) == len(first), "some lines arrived twice"
    assert all("nginx" in e["tags"] and e["event_id"] for e in events)
    # Restart every shipper, and send while they are stopping and starting.
    cluster.docker("service", "update", "--force", "--detach", "flaskobs_nginx-log-shipper")
    second = send_ids(cluster, "restart", 20)
    wait_until(lambda: cluster.replicas_healthy("nginx-log-shipper", 2), 120, "the shippers back")
    events = wait_until(lambda: events_for_all(cluster, second, "nginx.access"), 60,
                        "the lines written across the restart", 1)
    assert len(events) == len(second), "some lines arrived twice"


class Load:
    """One client per Nginx sending GET /api/items back to back; every answer with when it was
    asked, in seconds since the load started."""

    def __init__(self, cluster: Cluster, nodes: list[str]):
        self.cluster, self.nodes = cluster, nodes
        self.stop, self.started = threading.Event(), 0.0
        self.outcomes: list[tuple[float, str, int | str]] = []  # (asked at, node, status or error)
        self.pool = concurrent.futures.ThreadPoolExecutor(len(nodes))

    def __enter__(self) -> "Load":
        self.started = time.monotonic()
        self.running = [self.pool.submit(self.run, node) for node in self.nodes]
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for future in self.running:
            future.result()
        self.pool.shutdown()

    def run(self, node: str) -> None:
        with requests.Session() as session:
            while not self.stop.is_set():
                asked = time.monotonic() - self.started
                try:
                    r = session.get(self.cluster.url(node, "/api/items"), headers=HOST,
                                    verify=False, timeout=10)  # nosec B501  # as in get()
                    self.outcomes.append((asked, node, r.status_code))
                except requests.RequestException as exc:
                    self.outcomes.append((asked, node, repr(exc)))

    @property
    def answered(self) -> int:
        return sum(1 for _, _, outcome in self.outcomes if outcome == 200)

    @property
    def failures(self) -> list[tuple[float, str, int | str]]:
        return [o for o in self.outcomes if o[2] != 200]


def app_images(cluster: Cluster) -> set[str]:
    return set(cluster.docker("service", "ps", "flaskobs_app", "--filter", "desired-state=running",
                              "--format", "{{.Image}}").stdout.split())


def app_servers(cluster: Cluster) -> set[str]:
    """Which server each running app replica runs, from its processes on its node."""
    found = set()
    for task, node in cluster.running("app"):
        ids = cluster.swarm.docker(node, "ps", "-q", "--filter", f"name={task}.").stdout.split()
        for cid in ids:
            top = cluster.swarm.docker(node, "exec", cid, "sh", "-c", "cat /proc/[0-9]*/cmdline").stdout
            found.add("uwsgi" if "uWSGI master" in top else "gunicorn" if "gunicorn" in top else top)
    return found


def test_a_rolling_update_fails_no_request(cluster):
    """v1 under Gunicorn to v2 under uWSGI (APP_SERVER=uwsgi, as a redeploy with it in .env
    updates the app): no request fails, and then every replica runs uWSGI, behind the same Nginx
    (HTTP on the stack's network). The tests after this one run under uWSGI: the rollback, and
    the exact counts across a lost node."""
    assert app_servers(cluster) == {"gunicorn"}
    with Load(cluster, cluster.edge) as load:
        update = cluster.docker("service", "update", "--image", APP_V2, "--env-add", "APP_SERVER=uwsgi",
                                "--no-resolve-image", "--detach=false", "flaskobs_app", timeout=600)
    assert update.returncode == 0, update.stderr
    assert load.answered > 300 and load.failures == [], (load.answered, load.failures[:10])
    # Every replica now runs the new image, and says so.
    assert app_images(cluster) == {APP_V2}
    pages = [get(cluster.url(node)).text for node in cluster.edge for _ in range(6)]
    assert all("v2" in page and "v1" not in page for page in pages), pages[0][:500]
    assert app_servers(cluster) == {"uwsgi"}
    # Under uWSGI too: each request counted once in Prometheus, its access event shipped once.
    since = cluster.value("vector(time())")  # quiet: once every replica is scraped again, the total holds
    wait_until(lambda: cluster.value(f'count(timestamp(up{{job="flask"}}) > {since})') == 3, 60,
               "a scrape of every replica")
    before = flask_total(cluster) or 0
    ids = send_ids(cluster, "uwsgi", 30)
    wait_until(lambda: flask_total(cluster) == before + len(ids), 60, f"Prometheus to count {before + len(ids)}")
    events = wait_until(lambda: events_for_all(cluster, ids, "gunicorn.access"), 60,
                        "an access event per request at the sink", 1)
    assert len(events) == len(ids), "some events arrived twice"


def test_an_image_that_never_gets_healthy_rolls_back_by_itself(cluster):
    """The new replica's app never answers its health check: the update rolls back, and the
    replicas that run the previous image keep answering throughout."""
    with Load(cluster, cluster.edge) as load:
        cluster.docker("service", "update", "--image", APP_BROKEN, "--no-resolve-image", "--detach=false",
                       "flaskobs_app", check=False, timeout=600)
        wait_until(lambda: cluster.docker("service", "inspect", "-f", "{{.UpdateStatus.State}}",
                                          "flaskobs_app").stdout.strip() == "rollback_completed",
                   300, "the update to roll back")
        wait_until(lambda: cluster.replicas_healthy("app", 3), 120, "3 healthy replicas")
    assert app_images(cluster) == {APP_V2}
    assert load.answered > 300 and load.failures == [], (load.answered, load.failures[:10])


def test_losing_the_leader_costs_a_bounded_window_and_no_counts(cluster):
    """The leading manager, which holds an app replica and an Nginx, loses power. The other two
    managers elect a new leader; through the other Nginx, requests fail only in the first seconds
    (those Nginx sends to the lost replica's address until Swarm takes it out of DNS); the
    replica comes back on another node; what Prometheus counted before stays in the total."""
    lost = cluster.leader()
    assert lost == cluster.edge[0], lost  # the node that created the swarm
    assert lost in {node for _, node in cluster.running("app")}, cluster.running("app")  # spread: one each
    survivor = cluster.edge[1]
    for _ in range(12):  # some requests for every replica, the one on the node to lose among them
        assert get(cluster.url(survivor, "/api/items")).status_code == 200
    # Quiet now: once every replica is scraped again, the total holds every answer.
    since = cluster.value("vector(time())")
    wait_until(lambda: cluster.value(f'count(timestamp(up{{job="flask"}}) > {since})') == 3, 60,
               "a scrape of every replica")
    counted = flask_total(cluster)
    on_lost = cluster.value(f'sum(flask_http_request_duration_seconds_count{{url_rule="/api/items",node="{lost}"}})')
    assert on_lost, "the replica on the node to lose has counted requests"
    cluster.swarm.kill(lost)
    with Load(cluster, [survivor]) as load:
        try:
            # (Swarm starts a task Running once healthy; `service ls` still counts the lost node's.)
            wait_until(lambda: cluster.leader() not in (None, lost), 60, "a new leader")
            wait_until(lambda: len([node for _, node in cluster.running("app") if node != lost]) == 3, 180,
                       "3 healthy replicas on the other nodes")
            # and long enough after the window to show that requests succeed again
            wait_until(lambda: time.monotonic() - load.started > LOST_NODE_WINDOW + 10, 60, "the load to go on")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n" + cluster.docker("service", "ps", "flaskobs_app", "--no-trunc", "--format",
                                 "{{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}").stdout +
                                 cluster.docker("node", "ls").stdout) from exc
    late = [o for o in load.outcomes if o[0] > LOST_NODE_WINDOW]
    assert late and all(outcome == 200 for _, _, outcome in late), load.failures[:10]
    assert all(asked <= LOST_NODE_WINDOW for asked, _, _ in load.failures)
    # Every request answered after the loss is counted once, on top of what was counted before it.
    expected = counted + load.answered
    wait_until(lambda: flask_total(cluster) == expected, 90, f"Prometheus to count {expected}")


def test_no_node_asked_a_registry(cluster):
    """Every image came from `docker load`: no engine tried a registry (its name points at
    127.0.0.1 on the nodes, so a try would show as an error in the engine's log)."""
    asked = re.compile(r"registry-1\.docker\.io|127\.0\.0\.1:443|pull access denied|[Pp]ulling|manifest unknown")
    for node in cluster.swarm.names:
        out = subprocess.run(["docker", "logs", node], capture_output=True, text=True, timeout=60)
        lines = [line for line in (out.stdout + out.stderr).splitlines() if asked.search(line)]
        assert out.returncode == 0 and lines == [], (node, lines[:5])
    # Negative control: a pull on purpose (it can reach only 127.0.0.1) shows in the same log.
    cluster.docker("pull", "flaskobs-test/never-pushed:none", check=False, timeout=120)
    out = subprocess.run(["docker", "logs", cluster.monitoring], capture_output=True, text=True, timeout=60)
    assert asked.search(out.stdout + out.stderr), "a registry request left no trace the check could see"
