"""The shelf (/), one book (/books/<id>), and the form that adds one (POST /books)."""

import logging
import secrets

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for

from .models import Book, db

bp = Blueprint("shelf", __name__)
log = logging.getLogger(__name__)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


@bp.app_context_processor
def page_context():
    return {"shelf_name": current_app.config["SHELF_NAME"], "csrf_token": csrf_token}


@bp.get("/")
def shelf():
    books = db.session.scalars(db.select(Book).order_by(Book.id.desc()).limit(50)).all()
    return render_template("shelf.html", books=books)


@bp.get("/books/<int:book_id>")
def book(book_id: int):
    if book_id >= 2**63:  # beyond SQLite's integer: no such book, rather than an OverflowError
        abort(404)
    found = db.session.get(Book, book_id) or abort(404)
    return render_template("book.html", book=found)


@bp.post("/books")
def add_book():
    sent = request.form.get("csrf", "")
    if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
        abort(400, "the form expired; reload the page and try again")
    title, author = request.form.get("title", "").strip(), request.form.get("author", "").strip()
    if not title or not author or len(title) > 200 or len(author) > 200:
        abort(400, "a book needs a title and an author, each up to 200 characters")
    added = Book(title=title, author=author)
    db.session.add(added)
    db.session.commit()
    log.info("book added", extra={"book_id": added.id})
    return redirect(url_for("shelf.book", book_id=added.id), code=303)
