"""A small JSON API over the items table, plus a hello-world endpoint for benchmarks."""

import logging

from flask import Blueprint, abort, jsonify, url_for
from sqlalchemy import delete, func, insert, select

from . import db
from .validation import check_fields, int_arg, json_body, number, text

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)

ITEM_SCHEMA = {
    "name": (True, text(100)),
    "price": (True, number(0, 1_000_000)),
}


def _item(row) -> dict:
    return {"id": row.id, "name": row.name, "price": row.price,
            "created_at": _utc(row.created_at),
            "url": url_for("api.get_item", item_id=row.id, _external=True)}


def _utc(moment) -> str | None:
    if moment is None:
        return None
    # SQLite hands back naive UTC timestamps; say so explicitly.
    return moment.isoformat() + ("Z" if moment.tzinfo is None else "")


def _check_id(item_id: int) -> None:
    # An id the column cannot hold names no item, and the driver could not bind it (OverflowError).
    # Checked in the view: Werkzeug's int(max=...) would answer DELETE with a 405, not a 404.
    if not 1 <= item_id <= db.ID_MAX:
        abort(404, description=f"item {item_id} does not exist")


@bp.get("/hello")
def hello():
    return {"message": "hello"}


@bp.get("/items")
def list_items():
    limit = int_arg("limit", 20, 1, 100)
    offset = int_arg("offset", 0, 0, 1_000_000)
    with db.engine().connect() as conn:
        rows = conn.execute(select(db.items).order_by(db.items.c.id).limit(limit).offset(offset)).all()
        total = conn.execute(select(func.count()).select_from(db.items)).scalar_one()
    return {"items": [_item(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@bp.post("/items")
def create_item():
    fields = check_fields(json_body(), ITEM_SCHEMA)
    fields["name"] = fields["name"].strip()
    with db.engine().begin() as conn:
        item_id = conn.execute(insert(db.items).values(**fields)).inserted_primary_key[0]
        row = conn.execute(select(db.items).where(db.items.c.id == item_id)).one()
    log.info("item created", extra={"item_id": item_id})
    response = jsonify(_item(row))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_item", item_id=item_id, _external=True)
    return response


@bp.get("/items/<int:item_id>")
def get_item(item_id: int):
    _check_id(item_id)
    with db.engine().connect() as conn:
        row = conn.execute(select(db.items).where(db.items.c.id == item_id)).one_or_none()
    if row is None:
        abort(404, description=f"item {item_id} does not exist")
    return _item(row)


@bp.delete("/items/<int:item_id>")
def delete_item(item_id: int):
    _check_id(item_id)
    with db.engine().begin() as conn:
        deleted = conn.execute(delete(db.items).where(db.items.c.id == item_id)).rowcount
    if not deleted:
        abort(404, description=f"item {item_id} does not exist")
    log.info("item deleted", extra={"item_id": item_id})
    return "", 204
