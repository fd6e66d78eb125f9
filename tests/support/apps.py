"""The two apps every signal-path test runs against: the demo and the bookshelf example (a
different kind of app, whose package is called `app`). Each says where it lives and how to
make traffic whose effects the tests can count, and which server runs it (APP_SERVER)."""

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .docker import ROOT


@dataclass(frozen=True)
class AppUnderTest:
    name: str
    directory: Path          # APP_DIR
    module: str              # APP_MODULE
    static: Path             # APP_STATIC_DIR
    created_logger: str      # the logger of the line a create request writes
    probe: tuple[str, str]   # (url rule, path) of a GET that answers 200
    missing: tuple[str, str]  # (url rule, path) of a GET that answers 404 after a database read
    routes: dict = field(default_factory=dict)  # url rule -> a path that matches it
    server: str = "gunicorn"  # APP_SERVER

    @property
    def label(self) -> str:
        """The app and, when it is not the default, its server: a test id and a stack name."""
        return self.name if self.server == "gunicorn" else f"{self.name}-{self.server}"

    def env(self) -> dict[str, str]:
        """What goes in .env to deploy it (paths relative to compose/, as users write them)."""
        def rel(path: Path) -> str:
            return "../" + str(path.relative_to(ROOT))
        # The worker count the tests' env file gives Gunicorn (GUNICORN_WORKERS=2), in uWSGI's name.
        server = {"APP_SERVER": "uwsgi", "UWSGI_WORKERS": "2"} if self.server == "uwsgi" else {}
        return {"APP_DIR": rel(self.directory), "APP_MODULE": self.module, "APP_STATIC_DIR": rel(self.static),
                "APP_IMAGE": f"flaskobs-test/app-{self.name}:local", **server}

    def create(self, base: str, request_id: str, session: requests.Session | None = None, **kwargs) -> int:
        """Create one thing through the app (logs one `created_logger` line); return the status."""
        http = session or requests.Session()
        headers = {"X-Request-ID": request_id, **kwargs.pop("headers", {})}
        if self.name == "demo":
            return http.post(base + "/api/items", json={"name": "tea", "price": 1}, headers=headers,
                             timeout=10, **kwargs).status_code
        page = http.get(base + "/", timeout=10, **kwargs).text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        return http.post(base + "/books", data={"csrf": token, "title": "Dune", "author": "Herbert"},
                         headers=headers, allow_redirects=False, timeout=10, **kwargs).status_code

    @property
    def created_status(self) -> int:
        return 201 if self.name == "demo" else 303


DEMO = AppUnderTest("demo", ROOT / "app", "demo:create_app()", ROOT / "app/demo/static", "demo.api",
                    probe=("/api/hello", "/api/hello"), missing=("/api/items/<int:item_id>", "/api/items/987654"),
                    routes={"/api/items": "/api/items", "/api/items/<int:item_id>": "/api/items/987654"})
BOOKSHELF = AppUnderTest("bookshelf", ROOT / "examples/bookshelf", "app:create_app()",
                         ROOT / "examples/bookshelf/app/static", "app.views",
                         probe=("/", "/"), missing=("/books/<int:book_id>", "/books/987654"),
                         routes={"/": "/", "/books/<int:book_id>": "/books/987654"})
APPS = [DEMO, BOOKSHELF]
# The signal paths under uWSGI too (APP_SERVER=uwsgi): the same image, the other server.
DEMO_UWSGI = dataclasses.replace(DEMO, server="uwsgi")
BOOKSHELF_UWSGI = dataclasses.replace(BOOKSHELF, server="uwsgi")
