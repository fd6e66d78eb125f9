"""Database engine (any SQLAlchemy URL) and the items table."""

import os
import sqlite3
import time

from flask import Flask, current_app
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, create_engine, event, func
from sqlalchemy.exc import OperationalError

EXTENSION_KEY = "demo.db"
# The largest id the integer column holds (SQLite and PostgreSQL BIGINT): a larger one in a URL
# cannot name a row, and passing it to the driver raises OverflowError.
ID_MAX = 2**63 - 1
metadata = MetaData()
items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("price", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)


def engine(app: Flask | None = None):
    return (app or current_app).extensions[EXTENSION_KEY]


def _sqlite_pragmas(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        # WAL lets Gunicorn workers read while one writes; busy_timeout waits instead of failing.
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def _create_tables(eng) -> None:
    # Workers start together; if another one wins the CREATE race, check again.
    for attempt in range(5):
        try:
            metadata.create_all(eng)
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))


def init_app(app: Flask):
    """Create the engine and the table; return the engine."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////:memory:"):
        os.makedirs(os.path.dirname(url[len("sqlite:///"):]) or ".", exist_ok=True)
    eng = create_engine(url, pool_pre_ping=True)
    event.listen(eng, "connect", _sqlite_pragmas)
    _create_tables(eng)
    app.extensions[EXTENSION_KEY] = eng
    return eng
