"""Cost of one log call on the request path (stdout JSON + shipping queue), in microseconds."""

import io
import json
import logging
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from support.sink import JsonLinesSink  # noqa: E402


def main() -> None:
    port, directory, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    sink = JsonLinesSink(port).start()
    from app import create_app
    app = create_app({"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{directory}/app.db", "LOGSTASH_HOST": "127.0.0.1",
                      "LOGSTASH_PORT": port, "LOG_QUEUE_DIR": f"{directory}/queue"})
    for handler in logging.getLogger().handlers:  # stdout goes to a buffer, like a pipe
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(io.StringIO())
    log = logging.getLogger("app.bench")
    samples = []
    with app.test_request_context("/api/items", headers={"X-Request-ID": "bench"}):
        app.preprocess_request()
        for i in range(n):
            started = time.perf_counter_ns()
            log.info("item created", extra={"item_id": i})
            samples.append(time.perf_counter_ns() - started)
    samples.sort()
    time.sleep(1)
    print(json.dumps({"p50_us": samples[n // 2] / 1000, "p99_us": samples[int(n * 0.99)] / 1000,
                      "mean_us": sum(samples) / n / 1000, "delivered": len(sink.events)}))


if __name__ == "__main__":
    main()
