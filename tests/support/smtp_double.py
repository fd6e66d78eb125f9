"""A TEST DOUBLE for a mail server: just enough SMTP (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT) to take Alertmanager's mail, and print each message as one JSON line
{"double": "smtp", "from", "to", "data"} on stdout. No TLS, no auth: the test sets
ALERT_SMTP_REQUIRE_TLS=false.

    python3 smtp_double.py PORT

Standard library only: it runs in the bundle's Python image (tests/integration/compose.alerts.yaml).
"""

import json
import socketserver
import sys


class Session(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 smtp-double ESMTP")
        sender, recipients = None, []
        while line := self.rfile.readline():
            command = line.decode("latin-1").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-smtp-double\r\n250 8BITMIME\r\n")
                self.wfile.flush()
            elif verb in ("HELO", "NOOP"):
                self.reply("250 ok")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].split()[0], []  # no parameters (BODY=…)
                self.reply("250 ok")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].split()[0])
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)  # dot-unstuffing
                print(json.dumps({"double": "smtp", "from": sender, "to": recipients,
                                  "data": b"".join(data).decode("utf-8", "replace")}), flush=True)
                self.reply("250 queued")
            elif verb == "RSET":
                sender, recipients = None, []
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    Server(("0.0.0.0", int(sys.argv[1])), Session).serve_forever()  # nosec B104: inside its container
