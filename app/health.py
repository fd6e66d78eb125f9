"""Liveness (/healthz: the process answers) and readiness (/readyz: it can do its job)."""

from flask import Blueprint, current_app
from sqlalchemy import text

from . import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        with db.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready", never a 500
        checks["database"] = f"error: {type(exc).__name__}"
    shipper = current_app.extensions.get("log_shipper")
    if shipper is not None:
        backlog, bound = shipper.backlog(), shipper.max_events
        checks["log_queue"] = "ok" if backlog < bound else f"full: {backlog}/{bound} events"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
