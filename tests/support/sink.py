"""JsonLinesSink: a TEST DOUBLE for Logstash's tcp input with codec json_lines.

It accepts TCP connections, splits the stream on newlines and keeps every JSON event. It can
go down (refusing connections) and come back on the same port, to play an outage.
"""

import json
import socket
import threading


class JsonLinesSink:
    def __init__(self, port: int, host: str = "127.0.0.1", on_event=None):
        self.port = port
        self.host = host
        self.on_event = on_event
        self.events: list[dict] = []
        self.bad_lines: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> "JsonLinesSink":
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.host, self.port))
        server.listen(64)
        self._server = server
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop accepting; connections already open are read to their end."""
        server, self._server = self._server, None
        if server is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone leaves the socket
            # listening until then, and a restart on the same port fails with EADDRINUSE.
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                self._keep(lines)
        if buffer:
            self._keep([buffer])

    def _keep(self, lines: list[bytes]) -> None:
        with self._lock:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    self.bad_lines.append(line)
                    continue
                self.events.append(event)
                if self.on_event:
                    self.on_event(event)

    def received(self) -> list[dict]:
        """A copy of the events so far (the reader threads keep appending)."""
        with self._lock:
            return list(self.events)
