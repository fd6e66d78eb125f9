"""The demo app: a small JSON API over an items table and one HTML page.

It is an ordinary user of flaskobs, set up exactly as the README tells users to:
`gunicorn -c python:flaskobs.gunicorn_conf 'demo:create_app()'` (what flaskobs-serve runs with
APP_MODULE='demo:create_app()').
"""

import os

from flask import Flask

import flaskobs

from . import api, config, db, pages, sessions


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    # Defaults, then the environment, then the test's overrides (the flaskr pattern).
    app.config.from_mapping(config.from_env(os.environ, app.instance_path))
    app.config.update(test_config or {})
    app.session_interface = sessions.FastSecureSessions()

    flaskobs.init_app(app, json_errors=True)  # an API: every error is JSON
    engine = db.init_app(app)
    flaskobs.time_queries(engine, app)
    flaskobs.add_readiness_check(app, "database", flaskobs.database_check(engine))
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    return app
