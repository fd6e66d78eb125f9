"""flaskobs-serve passes uWSGI's sd_notify lines on to systemd from the main pid (notify_relay.py).
systemd's side is a test double speaking its datagram protocol on an abstract Unix socket."""

import socket
import uuid

from flaskobs.notify_relay import NotifyRelay


def test_state_lines_are_passed_on_and_a_mainpid_is_not():
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"@test-systemd-{uuid.uuid4().hex}"
    systemd.bind("\0" + name[1:])
    systemd.settimeout(5)
    env = {"NOTIFY_SOCKET": name}
    relay = NotifyRelay(env)
    assert env["NOTIFY_SOCKET"] != name  # the child gets the relay's socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as uwsgi:
        uwsgi.sendto(b"MAINPID=1\nREADY=1\nSTATUS=uWSGI is ready", "\0" + env["NOTIFY_SOCKET"][1:])
    relay.pump()
    assert systemd.recv(4096) == b"READY=1\nSTATUS=uWSGI is ready"
    systemd.close()


def test_without_systemd_it_does_nothing():
    env = {}
    relay = NotifyRelay(env)
    assert "NOTIFY_SOCKET" not in env and relay.sock is None
    relay.pump()
