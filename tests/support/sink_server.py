"""Run JsonLinesSink (a TEST DOUBLE for Logstash's tcp/json_lines input) in a container:
every event received is printed as one JSON line on stdout, for the test to read back."""

import json
import sys
import threading

from sink import JsonLinesSink


def main() -> None:
    port = int(sys.argv[1])
    lock = threading.Lock()

    def show(event: dict) -> None:
        with lock:
            print("SINK " + json.dumps(event), flush=True)

    JsonLinesSink(port, host="0.0.0.0", on_event=show).start()
    print(f"sink listening on {port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
