"""flaskobs.init_app: one call, in any order, that never writes the app's own configuration,
keeps its state in one typed entry, and refuses an app that is unsafe to serve."""

import json

import pytest
from flask import Flask, g, request

import flaskobs
from flaskobs.settings import ConfigError

STRONG = "k3J9-xq2_VbN8mZr4TtYwLp0sQe7HfGu5AaDcE1"


def fresh(name="user-app", **config) -> Flask:
    app = Flask(name)
    app.config.update(SECRET_KEY=STRONG, **config)
    return app


def test_the_apps_configuration_is_left_as_it_was(environment):
    environment(APP_ENV="development", LOG_LEVEL="DEBUG", METRICS_ENABLED="true")
    app = fresh(DEBUG=True, TESTING=True, SQLALCHEMY_DATABASE_URI="sqlite:///mine.db", SESSION_COOKIE_SECURE=True)
    before = dict(app.config)
    flaskobs.init_app(app)
    assert dict(app.config) == before
    assert set(app.extensions) - {"flaskobs"} <= {"prometheus_metrics"}  # the exporter's own entry, if any
    assert isinstance(app.extensions["flaskobs"], flaskobs.State)


@pytest.mark.parametrize("when", ["before the app's hooks", "after the app's hooks"])
def test_order_does_not_matter_the_id_is_there_for_the_apps_first_hook(environment, capsys, when):
    """The app's own before_request hook, registered before or after init_app, sees the request
    id on its log lines and in flaskobs.request_id()."""
    environment()
    app = fresh()
    seen = {}

    def first_hook():
        seen["id"] = flaskobs.request_id()
        app.logger.info("hook ran")

    if when == "after the app's hooks":
        app.before_request(first_hook)
        flaskobs.init_app(app)
    else:
        flaskobs.init_app(app)
        app.before_request(first_hook)

    @app.get("/")
    def index():
        return "ok"

    response = app.test_client().get("/", headers={"X-Request-ID": "order-1"})
    assert response.headers["X-Request-ID"] == "order-1" and seen["id"] == "order-1"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert next(line for line in logged if line["message"] == "hook ran")["request_id"] == "order-1"
    assert flaskobs.state(app).metrics.registry.get_sample_value(
        "flask_http_request_total", {"method": "GET", "status": "200"}) == 1


def test_init_app_twice_is_an_error(tiny):
    with pytest.raises(RuntimeError, match="already called"):
        flaskobs.init_app(tiny)


def test_the_extension_class_works_with_a_factory(environment):
    environment()
    obs = flaskobs.Observability(json_errors=True)
    app = fresh()
    obs.init_app(app)
    assert flaskobs.state(app).settings.json_errors is True
    assert app.test_client().get("/nope").mimetype == "application/json"


@pytest.mark.parametrize(("key", "message"), [
    (None, "SECRET_KEY is not set"),
    ("", "SECRET_KEY is not set"),
    ("changeme", "SECRET_KEY is too weak"),
    ("short", "SECRET_KEY is too weak"),
    ("a" * 40, "SECRET_KEY is too weak"),
    ("abababababababababababababababab12", "SECRET_KEY is too weak"),
])
def test_production_refuses_a_missing_or_weak_secret_key(environment, key, message):
    environment(APP_ENV="production")
    app = Flask("user-app")
    app.config["SECRET_KEY"] = key
    with pytest.raises(ConfigError, match=message):
        flaskobs.init_app(app)
    assert "flaskobs" not in app.extensions


def test_production_refuses_debug_and_development_allows_both(environment):
    environment(APP_ENV="production")
    with pytest.raises(ConfigError, match="DEBUG is on while APP_ENV=production"):
        flaskobs.init_app(fresh(DEBUG=True))
    environment(APP_ENV="development")
    app = Flask("dev-app")
    app.config["DEBUG"] = True
    flaskobs.init_app(app)  # no key, debug on: fine outside production
    assert app.config.get("SECRET_KEY") is None


def test_what_the_request_path_costs_is_one_middleware_and_one_hook(tiny):
    """The request path's shape, which make bench measures: no before_request hooks at all."""
    from flaskobs.observer import RequestObserver, note_route
    assert isinstance(tiny.wsgi_app, RequestObserver)
    assert tiny.before_request_funcs == {}
    assert tiny.after_request_funcs == {None: [note_route]}


def test_request_fields_do_not_depend_on_g(tiny):
    @tiny.get("/g")
    def uses_g():
        return {"has_request_id": "request_id" in g, "environ": request.environ.get("flaskobs.request_id")}

    body = tiny.test_client().get("/g", headers={"X-Request-ID": "gg"}).json
    assert body == {"has_request_id": False, "environ": "gg"}
