"""Bookshelf: a small HTML app with Flask-SQLAlchemy models and its own error pages.

An example of bringing your own app to the bundle: its package is called `app`, it has a
factory of its own, and flaskobs is one line in it (plus two optional ones for the database).
"""

import os
import time

from flask import Flask
from sqlalchemy.exc import OperationalError

import flaskobs

from . import errors, views
from .models import db


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", "sqlite:///bookshelf.db"),  # in instance/
        SHELF_NAME=os.environ.get("SHELF_NAME", "Bookshelf"),
    )
    app.config.update(test_config or {})
    os.makedirs(app.instance_path, exist_ok=True)

    flaskobs.init_app(app)
    db.init_app(app)
    with app.app_context():
        _create_tables()
        flaskobs.time_queries(db.engine)
        flaskobs.add_readiness_check(app, "database", flaskobs.database_check(db.engine))
    app.register_blueprint(views.bp)
    errors.init_app(app)
    return app


def _create_tables() -> None:
    # Gunicorn's workers start together; the loser of the CREATE race tries again.
    for attempt in range(5):
        try:
            db.create_all()
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))
