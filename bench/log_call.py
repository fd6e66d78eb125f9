"""Cost of one log call on the request path, in microseconds: ours (JSON line to stdout and
into the shipping queue, with the request's fields) against Flask's default logging (one text
line to stdout), interleaved in blocks so both see the same machine. stdout is a real pipe
drained by another process, written through as in the image (PYTHONUNBUFFERED=1)."""

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from support.sink import JsonLinesSink  # noqa: E402

BLOCK = 500


def pipe_stream():
    read, write = os.pipe()
    drain = subprocess.Popen(["cat"], stdin=read, stdout=subprocess.DEVNULL)
    os.close(read)
    return io.TextIOWrapper(io.FileIO(write, "w"), write_through=True), drain


def percentiles(samples: list[int]) -> dict:
    samples = sorted(samples)
    n = len(samples)
    return {"p50_us": samples[n // 2] / 1000, "p99_us": samples[int(n * 0.99)] / 1000,
            "mean_us": sum(samples) / n / 1000}


def main() -> None:
    port, directory, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    sink = JsonLinesSink(port).start()
    stream, drain = pipe_stream()
    from flask.logging import default_handler

    from app import create_app
    app = create_app({"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{directory}/app.db", "LOGSTASH_HOST": "127.0.0.1",
                      "LOGSTASH_PORT": port, "LOG_QUEUE_DIR": f"{directory}/queue"})
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(stream)
    ours = logging.getLogger("app.bench")
    # Flask's out-of-the-box logging: its default handler and format, nothing shipped.
    flask_default = logging.getLogger("bench.flask_default")
    flask_default.propagate = False
    plain = logging.StreamHandler(stream)
    plain.setFormatter(default_handler.formatter)
    flask_default.addHandler(plain)
    flask_default.setLevel(logging.INFO)
    samples = {"ours": [], "flask_default": []}
    with app.test_request_context("/api/items", headers={"X-Request-ID": "bench"}):
        app.preprocess_request()
        for block in range(0, n, BLOCK):
            for name, log in (("ours", ours), ("flask_default", flask_default)):
                out = samples[name]
                for i in range(block, block + BLOCK):
                    started = time.perf_counter_ns()
                    log.info("item created", extra={"item_id": i})
                    out.append(time.perf_counter_ns() - started)
    deadline = time.monotonic() + 10
    while len(sink.events) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.close()
    drain.wait(10)
    print(json.dumps({**percentiles(samples["ours"]), "delivered": len(sink.events),
                      "flask_default": percentiles(samples["flask_default"])}))


if __name__ == "__main__":
    main()
