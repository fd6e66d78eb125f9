"""`make bench`: what observability costs, measured side by side in one run on this machine.

Every throughput figure is the median of interleaved repetitions (A B C A B C ...), so slow
phases of a shared machine hit all variants alike; the figures that count are the ratios.
Writes bench/results/latest.json, docs/benchmarks.md and docs/benchmarks.png.

  python -m bench.run [--reps N] [--seconds S] [--quick]   (from the repository root; `make bench`)
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from flaskobs.gunicorn_metrics import proc_stats
from tests.support.apps import DEMO
from tests.support.docker import engine_error, image_present, image_vars, nginx_run
from tests.support.gunicorn import Gunicorn, free_port
from tests.support.uwsgi import Uwsgi as UwsgiServer
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
# The demo's folder is its APP_DIR: the subprocesses below import `demo` from it, as Gunicorn does.
SUBPROCESS_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(DEMO.directory)])}

WRK = ["wrk", "-t2", "-c16"]  # the connections (-c) are wrk_run's default


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) * 1024
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 1024**3, 1),
            "kernel": platform.release(), "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def wrk(url: str, seconds: int) -> float:
    return wrk_run(url, seconds)[0]


def wrk_run(url: str, seconds: int, connections: int = 16) -> tuple[float, int]:
    """(requests per second, requests completed)."""
    out = subprocess.run([*WRK[:2], f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True,
                         check=True).stdout
    return (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            int(re.search(r"(\d+) requests in", out).group(1)))


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes (gone ones count 0)."""
    return sum(stats[1] for stats in map(proc_stats, pids) if stats)


def nginx_workers() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"nginx: worker process"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def cpu_per_request(url: str, seconds: int, groups: dict) -> dict:
    """CPU microseconds per request spent by each group of processes while wrk loads `url`."""
    pids = {name: find() for name, find in groups.items()}
    before = {name: cpu_seconds(p) for name, p in pids.items()}
    _, done = wrk_run(url, seconds)
    return {name: (cpu_seconds(p) - before[name]) / done * 1e6 for name, p in pids.items()}


class Variant:
    """A server to load: started once, measured in every repetition, stopped at the end."""

    def __init__(self, name: str, url: str, stop=lambda: None):
        self.name, self.url, self.stop = name, url, stop
        self.samples: list[float] = []

    def result(self) -> dict:
        return {"median": statistics.median(self.samples), "min": min(self.samples), "max": max(self.samples),
                "samples": self.samples}


# The image's parser (it leaves gunicorn_h1c out); this venv has the C one, which `auto` would take.
PARSER = "python"


def ours(workdir: Path, name: str, **env) -> Gunicorn:
    """The demo under flaskobs-serve, 3 sync workers, no worker recycling during the run."""
    defaults = {"GUNICORN_WORKERS": 3, "GUNICORN_MAX_REQUESTS": 0, "GUNICORN_MAX_REQUESTS_JITTER": 0,
                "LOG_LEVEL": "WARNING", "GUNICORN_HTTP_PARSER": PARSER}
    return Gunicorn(workdir / name, DEMO.module, cwd=DEMO.directory, **{**defaults, **env})


def ours_uwsgi(workdir: Path, name: str, **env) -> UwsgiServer:
    """The demo under flaskobs-serve with APP_SERVER=uwsgi, speaking HTTP, the same 3 workers."""
    defaults = {"GUNICORN_WORKERS": 3, "GUNICORN_MAX_REQUESTS": 0, "LOG_LEVEL": "WARNING"}
    return UwsgiServer(workdir / name, DEMO.module, cwd=DEMO.directory, **{**defaults, **env})


def start_gunicorn(server: Gunicorn, name: str, path: str) -> Variant:
    server.workdir.mkdir(parents=True, exist_ok=True)
    server.start()
    return Variant(name, server.url + path, server.stop)


def reference_pfe(workdir: Path, **env) -> Gunicorn:
    """prometheus-flask-exporter's documented example on our app, same Gunicorn and machine."""
    server = Gunicorn(workdir / "pfe", cwd=ROOT / "bench", GUNICORN_WORKERS=3, PYTHONPATH=DEMO.directory,
                      LOG_LEVEL="WARNING", command=[sys.executable, "-m", "gunicorn", "-c",
                                                    str(ROOT / "bench/reference_pfe.conf.py"),
                                                    "--http-parser", PARSER, "reference_pfe:app"],
                      **env)
    server.ready_path = "/api/hello"
    return server


def reference_otel(workdir: Path) -> Gunicorn:
    """OpenTelemetry's Flask instrumentation with its Prometheus exporter on our app, same Gunicorn."""
    server = Gunicorn(workdir / "otel", cwd=ROOT / "bench", METRICS_ENABLED="false", PYTHONPATH=DEMO.directory,
                      LOG_LEVEL="WARNING")
    server.command = [sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{server.port}",
                      "--http-parser", PARSER, "reference_otel:app"]
    server.ready_path = "/api/hello"
    return server


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


class Uwsgi:
    """Our bare app under uWSGI (3 processes, app loaded after fork like our Gunicorn setup)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir / "uwsgi"
        self.proc = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "APP_ENV": "production", "METRICS_ENABLED": "false", "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{self.workdir}/app.db", "LOG_QUEUE_DIR": str(self.workdir / "queue")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.proc = subprocess.Popen([str(Path(sys.executable).with_name("uwsgi")), "--http-socket",
                                      f"127.0.0.1:{self.port}", "--master", "--processes", "3", "--lazy-apps",
                                      "--need-app", "--die-on-term", "--disable-logging", "--pythonpath",
                                      str(DEMO.directory), "--pythonpath", str(ROOT / "bench"), "--module",
                                      "uwsgi_app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: answers(self.url + "/healthz"), 10, "uWSGI to answer")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(30)


class Nginx:
    """Our Nginx configuration (TLS off, high rate limit) in the bundle's Nginx image, on the host
    network, proxying to the app on 127.0.0.1:8000 (the `app` name resolves to it), or, given a
    folder, to the app's Unix socket in it, as compose.yaml runs them (`env` says what the app is)."""

    def __init__(self, port: int = 8080, socket_dir: Path | None = None, **env: str):
        self.name = f"flaskobs-bench-nginx-{port}-{os.getpid()}"
        self.port, self.socket_dir, self.env = port, socket_dir, env
        self.url = f"http://127.0.0.1:{port}"  # the plain server's port, on the host network

    def start(self) -> None:
        mounts = ["-v", f"{DEMO.static}:/srv/static:ro"]
        env = {"TLS": "off", "SERVER_NAME": "127.0.0.1", "RATE_LIMIT": "1000000r/s", "RATE_LIMIT_BURST": "1000000",
               "APP_STATIC_DIR": str(DEMO.static), "NGINX_HTTP_LISTEN": str(self.port),
               "NGINX_HTTPS_LISTEN": str(self.port + 363), "NGINX_INTERNAL_LISTEN": str(self.port + 1),
               "NGINX_FALLBACK_LISTEN": f"127.0.0.1:{self.port + 2}", **self.env}
        if self.socket_dir:
            mounts += ["-v", f"{self.socket_dir}:/srv/app-socket"]
            env["APP_UPSTREAM"] = "unix:/srv/app-socket/app.sock"
        subprocess.run(nginx_run(image_vars()["NGINX_IMAGE"], "-d", "--name", self.name, "--network", "host",
                                 *mounts, env=env), check=True, capture_output=True)
        try:
            wait_until(lambda: answers(f"http://127.0.0.1:{self.port + 1}/nginx-health"), 10, "Nginx to answer")
        except AssertionError as exc:
            logs = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True).stderr[-2000:]
            raise AssertionError(f"{exc}\n{logs}") from None

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)


def socket_dir(workdir: Path, name: str) -> Path:
    """A folder for the app's socket that Nginx's worker (another user) can reach; the socket is 0666."""
    path = workdir / name
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *path.parents):
        if folder == Path("/"):
            break
        folder.chmod(folder.stat().st_mode | 0o711)
    return path


EXEMPLAR_PAIR = ("hello: + metrics", "hello: + metrics, exemplars off")
EXEMPLAR_EXTRA_ROUNDS = 10


def throughput(workdir: Path, reps: int, seconds: int, with_nginx: bool) -> tuple[dict, dict]:
    """Requests per second of every variant; and, with Nginx, CPU per request on each side of it."""
    sink_port = free_port()
    from tests.support.sink import JsonLinesSink
    sink = JsonLinesSink(sink_port).start()
    bare = {"METRICS_ENABLED": "false", "GUNICORN_ACCESS_LOG": "false"}
    full = {"LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": sink_port}
    specs = [
        ("hello: bare app", ours(workdir, "bare", **bare), "/api/hello"),
        # Every other Gunicorn row parses in Python, as the image does; this one with gunicorn_h1c.
        ("hello: bare app, C parser (gunicorn_h1c)", ours(workdir, "bare-h1c", GUNICORN_HTTP_PARSER="fast", **bare),
         "/api/hello"),
        ("hello: + metrics", ours(workdir, "metrics", GUNICORN_ACCESS_LOG="false"), "/api/hello"),
        ("hello: + metrics, exemplars off", ours(workdir, "metrics-noexemplars", GUNICORN_ACCESS_LOG="false",
                                                  METRICS_EXEMPLARS="false"), "/api/hello"),
        ("hello: + metrics + logs", ours(workdir, "full", **full), "/api/hello"),
        ("hello: + metrics + logs, no access log", ours(workdir, "full-noaccess", GUNICORN_ACCESS_LOG="false",
                                                        **full), "/api/hello"),
        ("hello: + metrics + logs, access log shipped too", ours(workdir, "full-access", LOG_SHIP_ACCESS="true",
                                                                **full), "/api/hello"),
        ("hello: exporter's documented setup", reference_pfe(workdir), "/api/hello"),
        ("hello: OpenTelemetry Flask + Prometheus", reference_otel(workdir), "/api/hello"),
        ("hello: full, gthread 3x4", ours(workdir, "gthread", GUNICORN_WORKER_CLASS="gthread", GUNICORN_THREADS=4,
                                          **full), "/api/hello"),
        ("items: bare app", ours(workdir, "items-bare", **bare), "/api/items?limit=20"),
        ("items: + metrics + logs", ours(workdir, "items-full", **full), "/api/items?limit=20"),
        ("items: + metrics + logs, no access log", ours(workdir, "items-noaccess", GUNICORN_ACCESS_LOG="false",
                                                        **full), "/api/items?limit=20"),
        # The supported uWSGI set-up (flaskobs-serve, APP_SERVER=uwsgi, HTTP socket), bare and full.
        ("hello: bare app, APP_SERVER=uwsgi", ours_uwsgi(workdir, "uw-bare", **bare), "/api/hello"),
        ("hello: + metrics + logs, APP_SERVER=uwsgi", ours_uwsgi(workdir, "uw-full", **full), "/api/hello"),
        ("items: bare app, APP_SERVER=uwsgi", ours_uwsgi(workdir, "uw-items-bare", **bare), "/api/items?limit=20"),
        ("items: + metrics + logs, APP_SERVER=uwsgi", ours_uwsgi(workdir, "uw-items-full", **full),
         "/api/items?limit=20"),
    ]
    nginx, cpu_split = None, {}
    proxies = []  # the compose set-ups: Nginx on the app's Unix socket, one hop trusted
    if with_nginx:
        # gthread: Nginx keeps upstream connections alive with it (sync workers close each one).
        direct = ours(workdir, "direct", GUNICORN_BIND="127.0.0.1:8000", GUNICORN_WORKER_CLASS="gthread",
                      GUNICORN_THREADS=4, **full)
        specs.append(("hello: full gthread, direct :8000", direct, "/api/hello"))
        trusted = {f"PROXY_FIX_X_{h}": 1 for h in ("FOR", "PROTO", "HOST", "PREFIX")}
        default_dir, uwsgi_dir = socket_dir(workdir, "sock-default"), socket_dir(workdir, "sock-uwsgi")
        specs += [
            ("hello: full, default (sync) on its socket", ours(workdir, "default-socket",
                                                               GUNICORN_BIND=f"unix:{default_dir}/app.sock",
                                                               **trusted, **full), "/healthz"),
            ("hello: full, APP_SERVER=uwsgi on its socket", ours_uwsgi(workdir, "uwsgi-socket", APP_PROTOCOL="uwsgi",
                                                                       GUNICORN_BIND=f"unix:{uwsgi_dir}/app.sock",
                                                                       **trusted, **full), "/healthz"),
        ]
        proxies = [(Nginx(8090, default_dir), "hello: full, default (sync), through Nginx"),
                   (Nginx(8100, uwsgi_dir, APP_SERVER="uwsgi"), "hello: full, APP_SERVER=uwsgi, through Nginx")]
    variants, behind = [], []  # behind: servers reached only through an Nginx below
    try:
        for name, server, path in specs:
            variant = start_gunicorn(server, name, path)
            (behind if server.socket_path or server.env.get("APP_PROTOCOL") == "uwsgi" else variants).append(variant)
        for proxy, name in proxies:
            proxy.start()
            variants.append(Variant(name, proxy.url + "/api/hello", proxy.stop))
        if with_nginx:  # the same server as the row above, on the realistic endpoint
            variants.append(Variant("items: full gthread, direct :8000", direct.url + "/api/items?limit=20"))
        if shutil.which(str(Path(sys.executable).with_name("uwsgi"))):
            uwsgi = Uwsgi(workdir)
            uwsgi.start()
            variants.append(Variant("hello: bare app on uWSGI", uwsgi.url + "/api/hello", uwsgi.stop))
        if with_nginx:
            nginx = Nginx()
            nginx.start()
            variants += [Variant("hello: full gthread, through Nginx", nginx.url + "/api/hello"),
                         Variant("items: full gthread, through Nginx", nginx.url + "/api/items?limit=20"),
                         Variant("Nginx static file (ceiling)", nginx.url + "/static/style.css")]
        # Seed the items table so the realistic endpoint reads 20 rows (the direct server once).
        for v in variants:
            if "items" in v.name and "Nginx" not in v.name:
                base = v.url.split("/api/")[0]
                for i in range(20):
                    requests.post(base + "/api/items", json={"name": f"item {i}", "price": i}, timeout=5)
        for v in variants:  # warm-up
            wrk(v.url, 1)
        for _ in range(reps):
            for v in variants:
                v.samples.append(wrk(v.url, seconds))
        # The exemplar bound (2%) is finer than one round's noise here (rounds moved by 4%): more
        # rounds of that pair alone, still interleaved, for the median of its per-round ratios.
        pair = [v for v in variants if v.name in EXEMPLAR_PAIR]
        for _ in range(EXEMPLAR_EXTRA_ROUNDS if len(pair) == 2 else 0):
            for v in pair:
                v.samples.append(wrk(v.url, seconds))
        if with_nginx:  # where the cycles go when Nginx is in front (medians of `reps` runs each)
            groups = {"gunicorn_workers": direct.workers, "nginx_workers": nginx_workers}
            runs = {"direct": [], "through_nginx": []}
            for _ in range(reps):
                runs["direct"].append(cpu_per_request(direct.url + "/api/hello", seconds, groups))
                runs["through_nginx"].append(cpu_per_request(nginx.url + "/api/hello", seconds, groups))
            cpu_split = {path: {g: statistics.median(r[g] for r in rs) for g in groups} for path, rs in runs.items()}
    finally:
        for v in [*variants, *behind]:
            v.stop()
        if nginx:
            nginx.stop()
        sink.stop()
    return {v.name: v.result() for v in variants}, cpu_split


WAIT_PATH = "/wait?seconds=0.05"
WAIT_CONNECTIONS = 64


def waiting(workdir: Path, reps: int, seconds: int) -> dict:
    """Worker classes on an endpoint that waits 50 ms (tests/support/tinyapp.py's /wait: time.sleep,
    as a call to another service waits), fully instrumented and shipping its two log lines a request:
    3 workers each, WAIT_CONNECTIONS connections, interleaved rounds."""
    sink_port = free_port()
    from tests.support.sink import JsonLinesSink
    sink = JsonLinesSink(sink_port).start()
    full = {"GUNICORN_WORKERS": 3, "GUNICORN_MAX_REQUESTS": 0, "GUNICORN_MAX_REQUESTS_JITTER": 0,
            "LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": sink_port}
    classes = {"sync": {}, "gthread 3x4": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": 4},
               "gevent": {"GUNICORN_WORKER_CLASS": "gevent"}}
    variants = []
    try:
        for name, env in classes.items():
            server = Gunicorn(workdir / f"wait-{name.split()[0]}", GUNICORN_HTTP_PARSER=PARSER, **full, **env)
            variants.append(start_gunicorn(server, name, WAIT_PATH))
        for v in variants:  # warm-up
            wrk_run(v.url, 1, WAIT_CONNECTIONS)
        for _ in range(reps):
            for v in variants:
                v.samples.append(wrk_run(v.url, seconds, WAIT_CONNECTIONS)[0])
    finally:
        for v in variants:
            v.stop()
        sink.stop()
    return {v.name: v.result() for v in variants}


def scrape_times(workdir: Path, workers: int, restarts: int) -> dict:
    """Median scrape time of our metrics port with `workers` workers and 10 routes' worth of
    series, then after `restarts` worker recycles; the same for the exporter's documented set-up."""
    def median_scrape(url: str) -> float:
        samples = []
        for _ in range(15):
            started = time.perf_counter()
            requests.get(url, timeout=60)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    def traffic(base: str, n: int) -> None:
        with requests.Session() as s:
            for i in range(n):
                s.get(base + ["/api/hello", "/api/items", f"/api/items/{i}", "/nope"][i % 4], timeout=10)

    results = {}
    server = ours(workdir, "scrape", GUNICORN_WORKERS=workers)
    server.start()
    try:
        traffic(server.url, 200)
        results["ours_workers"] = workers
        results["ours_ms"] = median_scrape(f"http://127.0.0.1:{server.metrics_port}/metrics") * 1000
    finally:
        server.stop()
    for prefix, server in (("ours", ours(workdir, "churn", GUNICORN_WORKERS=3, GUNICORN_MAX_REQUESTS=1,
                                         GUNICORN_MAX_REQUESTS_JITTER=0)),
                           ("reference", reference_pfe(workdir / "ref-churn", GUNICORN_MAX_REQUESTS=1))):
        server.start()
        try:
            url = f"http://127.0.0.1:{server.metrics_port}/metrics"
            results[f"{prefix}_before_churn_ms"] = median_scrape(url) * 1000
            traffic(server.url, restarts)
            results[f"{prefix}_after_churn_ms"] = median_scrape(url) * 1000
            results[f"{prefix}_files_after_churn"] = len(os.listdir(server.metrics_dir))
        finally:
            server.stop()
    results["restarts"] = restarts
    return results


def run_json(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT, env=SUBPROCESS_ENV).stdout.strip()


def shipping(workdir: Path, n: int) -> dict:
    out = {}
    for variant in ("ours", "library"):
        directory = workdir / f"ship-{variant}"
        directory.mkdir(parents=True)
        sent, got, emitted, delivered = run_json([sys.executable, "-m", "bench.ship_throughput", variant,
                                                   str(free_port()), str(directory), str(n)]).split()
        out[variant] = {"events": int(sent), "delivered": int(got), "events_per_s": int(got) / float(delivered),
                        "emit_s": float(emitted)}
    return out


def log_call(workdir: Path) -> dict:
    directory = workdir / "logcall"
    directory.mkdir(parents=True)
    return json.loads(run_json([sys.executable, "-m", "bench.log_call", str(free_port()), str(directory), "20000"]))


def app_cost() -> dict:
    """Microseconds of worker CPU per request, without server or network (bench.app_cost):
    the fastest of two runs of each, interleaved."""
    from bench.app_cost import MODES as modes
    from bench.app_cost import PATHS as paths
    runs = {(p, m): [] for p in paths for m in modes}
    for _ in range(2):
        for (p, m), out in runs.items():
            out.append(float(run_json([sys.executable, "-m", "bench.app_cost", m, paths[p]])))
    return {p: {m: min(runs[(p, m)]) for m in modes} for p in paths}


LAYOUT_PADS = (0, 64, 160, 320)


def instructions() -> dict:
    """Instructions per request inside the worker (bench.instructions, callgrind), each counted
    twice to show they hold still; two at a time, since a count does not move with load. Then the
    full variant of each endpoint with the environment padded (LAYOUT_PADS): how far the memory
    layout alone moves a count, the resolution of a comparison between columns."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.app_cost import MODES as modes
    from bench.app_cost import PATHS as paths
    from bench.instructions import per_request
    jobs = [(p, m, 0) for p in paths for m in modes for _ in range(2)]
    jobs += [(p, "full", pad) for p in paths for pad in LAYOUT_PADS[1:]]
    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda job: per_request(job[1], paths[job[0]], SUBPROCESS_ENV, job[2]), jobs))
    out = {p: {m: [] for m in modes} for p in paths}
    layout = {p: [] for p in paths}
    for (p, m, pad), n in zip(jobs, counts, strict=True):
        (out[p][m] if pad == 0 else layout[p]).append(n)
    for p in paths:
        layout[p].insert(0, out[p]["full"][0])
    return {"counts": out, "layout_full": layout}


def memory_per_worker(workdir: Path) -> dict:
    server = ours(workdir, "memory")
    server.start()
    try:
        requests.get(server.url + "/api/items", timeout=5)
        values = [float(line.rsplit(" ", 1)[1]) for line in server.scrape().splitlines()
                  if line.startswith("gunicorn_worker_resident_memory_bytes{")]
    finally:
        server.stop()
    return {"mib_per_worker": statistics.median(values) / 1024**2}


def stack_start(workdir: Path) -> dict | None:
    """Seconds for the metrics profile (no Grafana where its image is missing) to be healthy."""
    if engine_error() or not image_present(image_vars().get("PROMETHEUS_IMAGE", "")):
        return None
    from tests.support.stack import compose_stack
    services = ["app", "nginx", "prometheus", "nginx-exporter"]
    with_grafana = image_present(image_vars().get("GRAFANA_IMAGE", ""))
    started = time.perf_counter()
    with compose_stack("bench", ["metrics"], workdir / "stack",
                       services=services + (["grafana"] if with_grafana else []), **DEMO.env()):
        took = time.perf_counter() - started
    return {"seconds": took, "grafana": with_grafana}


def round_ratios(t: dict, a: str, b: str) -> list[float] | None:
    """The per-round ratios of variant a to b: each pair was measured in the same round, so a slow
    phase of the machine hits both sides of it. Round i of one is round i of the other; only the
    exemplar pair has extra rounds (both of it). None when either was not measured."""
    if a not in t or b not in t:
        return None
    xs, ys = t[a]["samples"], t[b]["samples"]
    n = min(len(xs), len(ys))
    return [x / y for x, y in zip(xs[:n], ys[:n], strict=True)]


def round_ratio(t: dict, a: str, b: str) -> float | None:
    """Median of the per-round ratios of a to b (round_ratios)."""
    rounds = round_ratios(t, a, b)
    return None if rounds is None else statistics.median(rounds)


PAIRS = {
    "hello_metrics_vs_bare": ("hello: + metrics", "hello: bare app"),
    "hello_exemplars_on_vs_off": EXEMPLAR_PAIR,
    "hello_full_vs_bare": ("hello: + metrics + logs", "hello: bare app"),
    "items_full_vs_bare": ("items: + metrics + logs", "items: bare app"),
    "hello_full_no_access_log_vs_bare": ("hello: + metrics + logs, no access log", "hello: bare app"),
    "items_full_no_access_log_vs_bare": ("items: + metrics + logs, no access log", "items: bare app"),
    "hello_ours_full_vs_exporter_documented": ("hello: + metrics + logs", "hello: exporter's documented setup"),
    "hello_ours_metrics_vs_exporter_documented": ("hello: + metrics", "hello: exporter's documented setup"),
    "hello_ours_full_vs_otel": ("hello: + metrics + logs", "hello: OpenTelemetry Flask + Prometheus"),
    "h1c_vs_python_parser": ("hello: bare app, C parser (gunicorn_h1c)", "hello: bare app"),
    "uwsgi_vs_gunicorn_bare": ("hello: bare app on uWSGI", "hello: bare app"),
    "uwsgi_full_vs_bare": ("hello: + metrics + logs, APP_SERVER=uwsgi", "hello: bare app, APP_SERVER=uwsgi"),
    "items_uwsgi_full_vs_bare": ("items: + metrics + logs, APP_SERVER=uwsgi", "items: bare app, APP_SERVER=uwsgi"),
    "uwsgi_full_vs_gunicorn_full": ("hello: + metrics + logs, APP_SERVER=uwsgi", "hello: + metrics + logs"),
    "gthread_vs_sync": ("hello: full, gthread 3x4", "hello: + metrics + logs"),
    "through_nginx_vs_direct": ("hello: full gthread, through Nginx", "hello: full gthread, direct :8000"),
    # The goal's pair: the fastest supported set-up against the default one, both fully
    # instrumented behind Nginx on the app's socket, as `make up` runs them.
    "uwsgi_vs_default_through_nginx": ("hello: full, APP_SERVER=uwsgi, through Nginx",
                                       "hello: full, default (sync), through Nginx"),
    "items_through_nginx_vs_direct": ("items: full gthread, through Nginx", "items: full gthread, direct :8000"),
    "exporter_documented_vs_bare": ("hello: exporter's documented setup", "hello: bare app"),
    "otel_vs_bare": ("hello: OpenTelemetry Flask + Prometheus", "hello: bare app"),
}


def ratios(t: dict) -> dict:
    return {key: round_ratio(t, *pair) for key, pair in PAIRS.items()}


def ratio_spreads(t: dict) -> dict:
    """[lowest, highest] per-round ratio of each pair: how far one round can be from the median."""
    spreads = {key: round_ratios(t, *pair) for key, pair in PAIRS.items()}
    return {key: [min(r), max(r)] for key, r in spreads.items() if r}


def waiting_ratios(t: dict) -> dict:
    return {"waiting_gevent_vs_sync": round_ratio(t, "gevent", "sync"),
            "waiting_gevent_vs_gthread": round_ratio(t, "gevent", "gthread 3x4")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no stack start-up")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.seconds = 2, 3
    if not shutil.which("wrk"):
        print("bench: wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    with_nginx = engine_error() is None and image_present(image_vars().get("NGINX_IMAGE", ""))
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="flaskobs-bench-") as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(24).hex())
        print("bench: throughput (interleaved)...", flush=True)
        results = {"machine": machine(), "settings": {"reps": args.reps, "seconds": args.seconds,
                                                      "wrk": " ".join(WRK), "workers": 3}}
        results["throughput"], results["nginx_cpu_us_per_request"] = throughput(workdir, args.reps, args.seconds,
                                                                                with_nginx)
        results["ratios"] = ratios(results["throughput"])
        results["ratio_spreads"] = ratio_spreads(results["throughput"])
        print("bench: worker classes on a waiting endpoint...", flush=True)
        results["waiting"] = waiting(workdir, args.reps, args.seconds)
        results["ratios"].update(waiting_ratios(results["waiting"]))
        print("bench: scrape times...", flush=True)
        results["scrape"] = scrape_times(workdir, workers=9, restarts=100 if args.quick else 300)
        print("bench: log shipping and log call cost...", flush=True)
        results["shipping"] = shipping(workdir, 5000 if args.quick else 20000)
        results["log_call"] = log_call(workdir)
        results["memory"] = memory_per_worker(workdir)
        print("bench: cost inside the worker...", flush=True)
        results["app_cost_us"] = app_cost()
        if shutil.which("valgrind"):
            print("bench: instructions per request (callgrind)...", flush=True)
            results["instructions"] = instructions()
        else:
            print("bench: valgrind is missing (apt-get install valgrind): no instruction counts", flush=True)
        if not args.quick:
            print("bench: stack start-up...", flush=True)
            results["stack_start"] = stack_start(workdir)
    results["duration_s"] = time.time() - started
    out = ROOT / "bench/results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    from bench.report import write_report
    write_report(results, ROOT / "docs")
    print(f"bench: done in {results['duration_s']:.0f} s; see docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
