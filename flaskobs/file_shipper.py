"""`python -m flaskobs.file_shipper`: ship JSON-lines files to Logstash's tcp input, losing none.

On Swarm, Nginx runs on the ingress nodes and Logstash on another, so Logstash cannot tail
Nginx's access-log files as it does under Compose. This runs beside each Nginx (a global
service on those nodes, sharing the node's log volume): it reads every file matching
SHIP_FILES from where it stopped, adds SHIP_TAG to each event's tags (the pipeline's Nginx
filter keys on it), and sends the new lines with the app's own transport (logship.AckedTcpTransport:
a batch counts as sent only once Logstash has read it to the end).
- The read position of each file (by inode, so a replaced file starts over) is saved after each
  confirmed batch, in SHIP_POSITION_FILE on a volume: a restart resumes there. A batch cut off by a
  crash is sent again; Nginx's lines carry event_id, so Elasticsearch keeps each once.
- A line is sent only once its newline is written; a line that is not JSON is sent as a message
  tagged _jsonparsefailure, never dropped.
- Logstash unreachable: nothing is skipped; the batch is retried with a backoff up to 10 s.
- SIGTERM: the batch in flight finishes, its position is saved, then the process exits.
`--check` (the container's health check) exits 0 while the loop is alive: it touches
SHIP_HEARTBEAT_FILE every round (sending or retrying) and after every batch.
"""

import glob
import json
import os
import signal
import sys
import threading
import time

from .logship import tcp_transport
from .settings import SPECS, ConfigError, env_float, env_str

BATCH_BYTES = 1 << 20  # read per file and per batch
MAX_BACKOFF = 10.0
HEARTBEAT_MAX_AGE = 30.0  # seconds; a round takes at most MAX_BACKOFF plus a batch's timeouts


class Shipper:
    def __init__(self, env):
        # Where to ship, read as the app reads it (settings.SPECS: one default, one check).
        self.host = SPECS["logstash_host"].read(env, "LOGSTASH_HOST")
        self.port = SPECS["logstash_port"].read(env, "LOGSTASH_PORT")
        if not self.host:
            raise ConfigError("LOGSTASH_HOST is not set; allowed: the host name or address of Logstash's tcp input")
        self.pattern = env_str(env, "SHIP_FILES", "/var/log/nginx-access/access-*.json")
        self.tag = env_str(env, "SHIP_TAG", "nginx")
        self.position_file = env_str(env, "SHIP_POSITION_FILE", "/var/lib/app/data/ship-position.json")
        self.interval = env_float(env, "SHIP_INTERVAL", 0.5, low=0.05, high=MAX_BACKOFF)
        self.heartbeat = heartbeat_file(env)
        self.transport = tcp_transport(self.host, self.port)
        self.positions = self._load()  # path -> [inode, offset]
        self.stopping = threading.Event()
        self.sent = 0

    # -- positions ------------------------------------------------------------------------------
    def _load(self) -> dict:
        try:
            with open(self.position_file) as f:
                data = json.load(f)
            return {path: [int(v[0]), int(v[1])] for path, v in data.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, IndexError, AttributeError):
            # Unreadable: start every file over. Lines sent again are indexed once (event_id).
            print(f"file_shipper: {self.position_file} is not a position file; reading every file from the start",
                  file=sys.stderr)
            return {}

    def _save(self) -> None:
        tmp = f"{self.position_file}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.positions, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.position_file)

    # -- reading --------------------------------------------------------------------------------
    def event(self, line: bytes) -> bytes:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            event = {"message": line.decode("utf-8", "replace"), "tags": ["_jsonparsefailure"]}
        tags = event.get("tags")
        tags = list(tags) if isinstance(tags, list) else ([] if tags is None else [tags])
        event["tags"] = [*tags, self.tag] if self.tag not in tags else tags
        return json.dumps(event, separators=(",", ":")).encode() + b"\n"

    def pending(self, path: str) -> tuple[int, int, bytes] | None:
        """(inode, offset, complete lines) not yet sent from `path`, or None."""
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                inode, offset = self.positions.get(path, (st.st_ino, 0))
                if inode != st.st_ino or st.st_size < offset:  # replaced or truncated: start over
                    inode, offset = st.st_ino, 0
                if st.st_size == offset:
                    self.positions[path] = [inode, offset]
                    return None
                f.seek(offset)
                data = f.read(BATCH_BYTES)
        except FileNotFoundError:
            return None
        end = data.rfind(b"\n") + 1
        if end == 0:
            if len(data) < BATCH_BYTES:
                return None  # the line is still being written
            end = len(data)  # a line longer than a batch: sent as it is, in parts
        return inode, offset, data[:end]

    def ship_once(self) -> int:
        """Send what is new in every file; returns the lines sent. Raises OSError when Logstash
        did not confirm a batch (the position stays where it was)."""
        paths = sorted(glob.glob(self.pattern))
        for gone in set(self.positions) - set(paths):
            del self.positions[gone]
        total = 0
        for path in paths:
            while not self.stopping.is_set():
                chunk = self.pending(path)
                if chunk is None:
                    break
                inode, offset, data = chunk
                events = [self.event(line) for line in data.split(b"\n") if line.strip()]
                if events:
                    self.transport.send(events)
                self.positions[path] = [inode, offset + len(data)]
                self._save()
                self.beat()  # a long backlog is progress too, not a stuck loop
                total += len(events)
        self.sent += total
        return total

    def beat(self) -> None:
        with open(self.heartbeat, "a"):
            os.utime(self.heartbeat)

    def run(self) -> int:
        backoff = self.interval
        print(f"file_shipper: shipping {self.pattern} to {self.host}:{self.port}", file=sys.stderr, flush=True)
        while not self.stopping.is_set():
            self.beat()
            try:
                self.ship_once()
                backoff = self.interval
            except OSError as exc:
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                print(f"file_shipper: Logstash at {self.host}:{self.port} did not take a batch ({exc}); "
                      f"retrying in {backoff:g} s", file=sys.stderr, flush=True)
            self.stopping.wait(backoff)
        print(f"file_shipper: stopped; {self.sent} lines sent", file=sys.stderr, flush=True)
        return 0


def heartbeat_file(env) -> str:
    return env_str(env, "SHIP_HEARTBEAT_FILE", "/tmp/file-shipper-alive")  # nosec B108  # a tmpfs in the container


def check(env) -> int:
    try:
        age = time.time() - os.path.getmtime(heartbeat_file(env))
    except OSError as exc:
        print(f"file_shipper: not running ({exc.strerror})", file=sys.stderr)
        return 1
    return 0 if age < HEARTBEAT_MAX_AGE else 1


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        return check(os.environ)
    try:
        shipper = Shipper(os.environ)
    except ConfigError as exc:
        print(f"file_shipper: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: shipper.stopping.set())
    return shipper.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
