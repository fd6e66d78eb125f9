"""The demo HTML page; its CSS, JS and image live under /static/ for Nginx to serve."""

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html")
