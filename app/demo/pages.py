"""The demo HTML page; its CSS, JS and image live under /static/ for Nginx to serve."""

from flask import Blueprint, current_app, render_template

import flaskobs

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    settings = flaskobs.state(current_app).settings
    return render_template("index.html", service=settings.service_name, version=settings.app_version)
