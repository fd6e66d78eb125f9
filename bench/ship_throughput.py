"""Sustained log shipping, persistence on: events/s delivered to a local json_lines sink.

Run as a separate process per variant (the library's constants are module globals):
  ship_throughput.py ours|library PORT DIR N
"""

import logging
import sys
import time

from tests.support.sink import JsonLinesSink
from tests.support.waiting import wait_until


def main() -> None:
    variant, port, directory, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    sink = JsonLinesSink(port).start()
    formatter = logging.Formatter('{"message": "%(message)s", "level": "%(levelname)s"}')
    if variant == "ours":
        from flaskobs import logship, settings
        cfg = settings.load({"LOG_QUEUE_DIR": directory, "LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": str(port),
                             "LOG_EVENT_TTL": "3600", "LOG_QUEUE_MAX_EVENTS": str(10 * n)})
        handler = logship.install(cfg, formatter)
    else:  # python-logstash-async as documented: defaults, SQLite persistence
        from logstash_async.handler import AsynchronousLogstashHandler
        handler = AsynchronousLogstashHandler(host="127.0.0.1", port=port, database_path=f"{directory}/lsa.db")
        handler.setFormatter(formatter)
    logger = logging.getLogger("bench.ship")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    started = time.perf_counter()
    for i in range(n):
        logger.info("event %d", i)
    emitted = time.perf_counter() - started
    wait_until(lambda: len(sink.received()) >= n, 600, f"{n} events at the sink", 0.05)
    delivered = time.perf_counter() - started
    print(f"{n} {len(sink.events)} {emitted:.3f} {delivered:.3f}")
    handler.close()


if __name__ == "__main__":
    main()
