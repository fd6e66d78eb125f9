"""How many events wait in a log queue file (logship.py's SQLite slots), for the metrics.

Apart from logship.py on purpose: the Gunicorn master counts the backlog, and importing the shipper
there would import python-logstash-async and with it requests and urllib3, which then hold the ssl
module's unpatched classes in every gevent worker forked later (gevent's MonkeyPatchWarning).
"""

import sqlite3


def backlog_of(path: str) -> int:
    """Count the queued events in one slot file (read-only; used by the metrics collector)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            return conn.execute("SELECT count(*) FROM event").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
