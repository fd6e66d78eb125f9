"""Cost of one log call on the request path, in microseconds: ours (JSON line to stdout and
into the shipping queue, with the request's fields) against Flask's default logging (one text
line to stdout), interleaved in blocks so both see the same machine. stdout is a real pipe
drained by another process, written through as in the image (PYTHONUNBUFFERED=1)."""

import json
import logging
import sys
import time

from bench.stdout_pipe import stdout_to_pipe
from tests.support.sink import JsonLinesSink
from tests.support.waiting import wait_until

BLOCK = 500


def percentiles(samples: list[int]) -> dict:
    samples = sorted(samples)
    n = len(samples)
    return {"p50_us": samples[n // 2] / 1000, "p99_us": samples[int(n * 0.99)] / 1000,
            "mean_us": sum(samples) / n / 1000}


def main() -> None:
    port, directory, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    sink = JsonLinesSink(port).start()
    with stdout_to_pipe():
        samples = measure(port, directory, n)
    wait_until(lambda: len(sink.received()) >= 2 * n, 10, f"{2 * n} events at the sink", 0.05)
    print(json.dumps({**percentiles(samples["ours"]), "delivered": len(sink.events),
                      "flask_default": percentiles(samples["flask_default"]),
                      "request_on_disk": percentiles(samples["request_on_disk"])}))


def plain_call(log, i) -> None:
    log.info("item created", extra={"item_id": i})


def measure(port: int, directory: str, n: int) -> dict[str, list[int]]:
    import os

    from demo import create_app
    from flask.logging import default_handler

    import flaskobs
    os.environ.update({"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{directory}/app.db",
                       "LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": str(port), "LOG_QUEUE_DIR": f"{directory}/queue"})
    app = create_app()
    ours = logging.getLogger("demo.bench")
    # Flask's out-of-the-box logging: its default handler and format, nothing shipped.
    flask_default = logging.getLogger("bench.flask_default")
    flask_default.propagate = False
    plain = logging.StreamHandler(sys.stdout)
    plain.setFormatter(default_handler.formatter)
    flask_default.addHandler(plain)
    flask_default.setLevel(logging.INFO)
    shipper = flaskobs.state(app).shipper

    def request_on_disk(log, i):
        # What a request that logs one line pays: the line, then its write to the queue file
        # before the response (observer.py), instead of a hand-off to the sender thread.
        shipper.hold()
        log.info("item created", extra={"item_id": i})
        shipper.persist()

    samples = {"ours": [], "flask_default": [], "request_on_disk": []}
    with app.test_request_context("/api/items", headers={"X-Request-ID": "bench"}):
        app.preprocess_request()
        for block in range(0, n, BLOCK):
            for name, log, call in (("ours", ours, plain_call), ("flask_default", flask_default, plain_call),
                                    ("request_on_disk", ours, request_on_disk)):
                out = samples[name]
                for i in range(block, block + BLOCK):
                    started = time.perf_counter_ns()
                    call(log, i)
                    out.append(time.perf_counter_ns() - started)
    return samples


if __name__ == "__main__":
    main()
