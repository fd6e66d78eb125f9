"""CPU cost of one request inside the worker, without the server or the network: the WSGI call,
plus Gunicorn's access line where it is on. The fastest of several rounds of many calls, so
the shared machine's slow phases drop out; throughput ratios carry them.

  python -m bench.app_cost MODE PATH   (MODE: bare | no-exemplars | metrics | full)  -> microseconds per request
"""

import datetime
import os
import sys
import tempfile
import timeit
from pathlib import Path

from bench.stdout_pipe import stdout_to_pipe

# The endpoints and modes measured (here and by bench.instructions).
PATHS = {"hello": "/api/hello", "items": "/api/items?limit=20"}
MODES = ("bare", "no-exemplars", "metrics", "full")


def workdir() -> Path:
    """A fresh folder, with the multiprocess metrics directory in it, as in the image."""
    work = Path(tempfile.mkdtemp(prefix="flaskobs-appcost-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(work / "metrics")
    (work / "metrics").mkdir()
    return work


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    work = workdir()
    # Like the image: stdout a pipe that another process drains.
    with stdout_to_pipe():
        best = measure(mode, path, work)
    print(f"{best:.2f}")


def measure(mode: str, path: str, work: Path) -> float:
    one, finish = prepare(mode, path, work)
    one()
    n = 1000
    best = min(timeit.repeat(one, number=n, repeat=7)) / n * 1e6
    finish()
    return best


def prepare(mode: str, path: str, work: Path):
    """(one, finish): one request through the app as MODE sets it up; finish flushes and stops
    what it started. bench.instructions counts the instructions of the same call."""
    from demo import create_app
    from gunicorn.config import Config
    from werkzeug.test import EnvironBuilder

    from flaskobs.gunicorn_logging import STDOUT, JsonLogger
    from tests.support.gunicorn import free_port
    from tests.support.sink import JsonLinesSink

    # The demo reads its settings and flaskobs's from the environment, as in the container.
    os.environ.update({"APP_ENV": "production", "SECRET_KEY": os.urandom(24).hex(), "LOG_LEVEL": "WARNING",
                       "DATABASE_URL": f"sqlite:///{work}/app.db", "LOG_QUEUE_DIR": str(work / "queue")})
    if mode == "bare":
        os.environ["METRICS_ENABLED"] = "false"
    if mode == "no-exemplars":  # metrics, without the request ids per bucket
        os.environ["METRICS_EXEMPLARS"] = "false"
    sink = None
    if mode == "full":
        port = free_port()
        sink = JsonLinesSink(port).start()
        os.environ.update(LOGSTASH_HOST="127.0.0.1", LOGSTASH_PORT=str(port))
    app = create_app()
    client = app.test_client()
    for i in range(20):
        client.post("/api/items", json={"name": f"item {i}", "price": i})
    access = None
    if mode == "full":
        gcfg = Config()
        gcfg.set("accesslog", "-")
        access = JsonLogger(gcfg)  # its handler takes sys.stdout, the pipe by now

    url, _, query = path.partition("?")
    environ = EnvironBuilder(path=url, query_string=query, headers={"User-Agent": "bench"}).get_environ()
    spent = datetime.timedelta(microseconds=500)

    class Response:  # what Gunicorn hands its access logger
        status_code, sent = 200, 100

    def one() -> None:
        env = dict(environ)
        headers = []
        body = b"".join(app(env, lambda status, h, exc=None: headers.extend(h)))
        if access is not None:
            Response.headers = headers
            Response.sent = len(body)
            access.access(Response, None, env, spent)

    def finish() -> None:
        STDOUT.flush()  # into the pipe, before stdout is ours again
        if sink:
            sink.stop()
    return one, finish


if __name__ == "__main__":
    main()
