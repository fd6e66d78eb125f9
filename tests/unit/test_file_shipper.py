"""flaskobs.file_shipper as a real process, shipping files the way Nginx writes its access log
(one JSON object a line, one file a day) to a JsonLinesSink, a TEST DOUBLE for Logstash's
tcp/json_lines input: every line once, through an outage and a restart, nothing half-written."""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support.gunicorn import free_port
from support.sink import JsonLinesSink
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def line(request_id: str) -> bytes:
    return json.dumps({"@timestamp": "2026-11-24T10:00:00+00:00", "logger": "nginx.access", "event_id": request_id,
                       "request_id": request_id, "status": 200}).encode() + b"\n"


class ShipperProcess:
    def __init__(self, tmp_path: Path, port: int, **env: str):
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGSTASH_HOST": "127.0.0.1", "LOGSTASH_PORT": str(port),
                    "SHIP_FILES": str(tmp_path / "logs" / "access-*.json"), "SHIP_INTERVAL": "0.1",
                    "SHIP_POSITION_FILE": str(tmp_path / "position.json"),
                    "SHIP_HEARTBEAT_FILE": str(tmp_path / "alive"), **env}
        self.log = tmp_path / f"shipper-{uuid.uuid4().hex[:8]}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ShipperProcess":
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "flaskobs.file_shipper"], env=self.env, cwd=ROOT,
                                         stderr=err)
        return self

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        return self.proc.returncode, self.output()

    def healthy(self) -> bool:
        return subprocess.run([sys.executable, "-m", "flaskobs.file_shipper", "--check"], env=self.env,
                              cwd=ROOT, capture_output=True).returncode == 0


@pytest.fixture
def logs(tmp_path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs"


def arrived(sink: JsonLinesSink) -> list[str]:
    return [e.get("request_id") or e.get("message") for e in sink.received()]


def test_every_complete_line_arrives_once_tagged(tmp_path, logs):
    sink = JsonLinesSink(free_port()).start()
    shipper = ShipperProcess(tmp_path, sink.port).start()
    try:
        day1, day2 = [f"a-{uuid.uuid4().hex}" for _ in range(50)], [f"b-{uuid.uuid4().hex}" for _ in range(50)]
        (logs / "access-2026-11-23.json").write_bytes(b"".join(map(line, day1)))
        half = line(day2[0])
        with open(logs / "access-2026-11-24.json", "wb") as f:
            f.write(half[:20])  # Nginx is writing this line
            f.flush()
            wait_until(lambda: len(sink.received()) == len(day1), 10, "the first day's lines")
            assert day2[0] not in arrived(sink)  # a line is sent only once complete
            f.write(half[20:] + b"".join(map(line, day2[1:])) + b"not json at all\n")
        wait_until(lambda: len(sink.received()) == len(day1) + len(day2) + 1, 10, "every line")
        events = sink.received()
        assert arrived(sink) == [*day1, *day2, "not json at all"]  # in order, each once
        assert all("nginx" in e["tags"] for e in events)
        assert events[-1]["tags"] == ["_jsonparsefailure", "nginx"]
        assert shipper.healthy()
    finally:
        code, err = shipper.stop()
        sink.stop()
    assert code == 0, err


def test_an_outage_and_a_restart_lose_nothing_and_resend_nothing(tmp_path, logs):
    port = free_port()  # nothing listens yet: Logstash is down
    shipper = ShipperProcess(tmp_path, port).start()
    before = [f"c-{uuid.uuid4().hex}" for _ in range(40)]
    (logs / "access-2026-11-24.json").write_bytes(b"".join(map(line, before)))
    wait_until(lambda: "did not take a batch" in shipper.output(), 10, "a refused batch")
    assert shipper.healthy()  # retrying is working, not dead
    sink = JsonLinesSink(port).start()
    try:
        wait_until(lambda: sorted(arrived(sink)) == sorted(before), 20, "the backlog after the outage")
        code, _ = shipper.stop()
        assert code == 0
        after = [f"d-{uuid.uuid4().hex}" for _ in range(40)]
        with open(logs / "access-2026-11-24.json", "ab") as f:
            f.write(b"".join(map(line, after)))
        # Written while no shipper ran, and a file replaced at the same name (a new inode).
        replaced = [f"e-{uuid.uuid4().hex}" for _ in range(5)]
        (logs / "access-2026-11-23.json").write_bytes(b"".join(map(line, replaced)))
        shipper = ShipperProcess(tmp_path, port).start()
        wait_until(lambda: len(sink.received()) == len(before) + len(after) + len(replaced), 20, "the new lines")
        ids = arrived(sink)
        assert sorted(ids) == sorted(before + after + replaced)  # each once: nothing resent after the restart
        os.unlink(logs / "access-2026-11-23.json")
        os.rename(logs / "access-2026-11-24.json", logs / "access-2026-11-24.json.old")
        again = [f"f-{uuid.uuid4().hex}" for _ in range(3)]
        (logs / "access-2026-11-24.json").write_bytes(b"".join(map(line, again)))  # same name, new file
        wait_until(lambda: set(again) <= set(arrived(sink)), 20, "the replaced file's lines")
    finally:
        code, err = shipper.stop()
        sink.stop()
    assert code == 0, err


@pytest.mark.parametrize(("env", "named"), [
    ({"LOGSTASH_HOST": ""}, "LOGSTASH_HOST is not set"),
    ({"SHIP_INTERVAL": "soon"}, "SHIP_INTERVAL='soon' is not a number; allowed: 0.05..10"),
    ({"LOGSTASH_PORT": "99999"}, "LOGSTASH_PORT=99999 is out of range; allowed: 1..65535"),
])
def test_a_bad_setting_stops_it_naming_the_variable(tmp_path, env, named):
    shipper = ShipperProcess(tmp_path, 5959, **env)
    out = subprocess.run([sys.executable, "-m", "flaskobs.file_shipper"], env=shipper.env, cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert named in out.stderr


def test_the_health_check_fails_without_a_running_shipper(tmp_path):
    assert not ShipperProcess(tmp_path, 5959).healthy()
    (tmp_path / "alive").touch()
    os.utime(tmp_path / "alive", (0, 0))  # a heartbeat from long ago: the loop is stuck or gone
    assert not ShipperProcess(tmp_path, 5959).healthy()
