"""Run an app under real Waitress on loopback (`python -m flaskobs.waitress_serve`), with the Gunicorn
helper's interface (start, stop, scrape, value, output), so the same checks read both."""

import sys
from pathlib import Path

from .gunicorn import Gunicorn


class Waitress(Gunicorn):
    SERVE = (sys.executable, "-m", "flaskobs.waitress_serve")

    def __init__(self, workdir: Path, app_module: str = "support.tinyapp:create_app()", command=None, **env):
        super().__init__(workdir, app_module, command=list(command or self.SERVE), **env)
        self.env.pop("PROMETHEUS_MULTIPROC_DIR")  # one process: its own registry
        for name in [k for k in self.env if k.startswith("GUNICORN_")]:
            del self.env[name]
        self.env.setdefault("WAITRESS_LISTEN", f"127.0.0.1:{self.port}")
