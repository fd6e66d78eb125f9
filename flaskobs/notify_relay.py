"""uWSGI's sd_notify messages to systemd, sent on from flaskobs-serve, the service's main pid.

Under systemd (Type=notify) flaskobs-serve stays uWSGI's parent (delayed_stop.py), and systemd
takes notifications from the main pid only (NotifyAccess=main; "all" would let any process of
the service send them, and costs the unit's exposure score). uWSGI's master says READY=1 itself
(core/notify.c) to the socket in NOTIFY_SOCKET: here uWSGI gets a socket of ours instead, and
flaskobs-serve passes its state lines on, never a MAINPID= (the main pid stays ours).
"""

import os
import socket

PASSED = (b"READY=", b"RELOADING=", b"STOPPING=", b"STATUS=", b"ERRNO=", b"WATCHDOG=")


def _address(name: str) -> str:
    return "\0" + name[1:] if name.startswith("@") else name  # "@": the abstract namespace


class NotifyRelay:
    """Takes `env`'s NOTIFY_SOCKET for itself and gives the child its own; `fileno()` to select on,
    `pump()` when readable. Without NOTIFY_SOCKET (no systemd) it does nothing."""

    def __init__(self, env: dict):
        self.target = env.get("NOTIFY_SOCKET", "")
        self.sock: socket.socket | None = None
        if not self.target:
            return
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"@flaskobs-notify-{os.getpid()}"
        self.sock.bind(_address(name))
        self.sock.setblocking(False)
        env["NOTIFY_SOCKET"] = name

    def fileno(self) -> int:
        return self.sock.fileno() if self.sock else -1

    def pump(self) -> None:
        if self.sock is None:
            return
        while True:
            try:
                message = self.sock.recv(4096)
            except BlockingIOError:
                return
            lines = [line for line in message.split(b"\n") if line.startswith(PASSED)]
            if lines:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
                    try:
                        out.sendto(b"\n".join(lines), _address(self.target))
                    except OSError:
                        pass  # systemd gone: nothing to tell
