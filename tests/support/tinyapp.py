"""A minimal Flask app that is not the demo: what the package's own tests instrument.

    gunicorn -c python:flaskobs.gunicorn_conf 'support.tinyapp:create_app()'   (tests/ on the path)
"""

import logging
import os
import secrets
import time

from flask import Flask, abort, request, url_for

import flaskobs

log = logging.getLogger("tinyapp")


def create_app(**options) -> Flask:
    app = Flask("tinyapp")
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48)

    @app.get("/hello")
    def hello():
        return {"message": "hello"}

    @app.post("/items")
    def create_item():
        body = request.get_data()  # reads a body, as an app does (a broken chunked body fails here)
        log.info("item created", extra={"item_id": 1})
        return {"id": 1, "bytes": len(body)}, 201

    @app.get("/items/<int:item_id>")
    def get_item(item_id: int):
        if item_id != 1:
            abort(404)
        return {"id": 1}

    @app.get("/wait")
    def wait():
        # Waits as an app calling another service does; under gevent time.sleep lets others run.
        seconds = min(max(request.args.get("seconds", 0.1, type=float), 0.0), 5.0)
        log.info("waiting", extra={"seconds": seconds})
        time.sleep(seconds)
        log.info("waited", extra={"seconds": seconds})
        return {"waited": seconds}

    @app.get("/whoami")
    def whoami():
        return {"url": url_for("whoami", _external=True), "remote_addr": request.remote_addr}

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    flaskobs.init_app(app, **options)
    return app


def create_app_without_flaskobs() -> Flask:
    """The same routes, and no flaskobs.init_app: the loader must add it."""
    app = Flask("tinyapp")
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48)

    @app.get("/hello")
    def hello():
        return {"message": "hello"}
    return app


def broken_factory() -> Flask:
    raise RuntimeError("the database is not there")
