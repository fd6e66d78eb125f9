"""Error pages in HTML, the shelf's own look: this app never answers with JSON."""

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def _page(exc: HTTPException):
    return render_template("error.html", code=exc.code, name=exc.name, description=exc.description), exc.code


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _page)
