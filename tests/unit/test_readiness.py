"""/readyz: checks the app registers, each bounded in time; a failure is a 503 naming it."""

import threading
import time

import pytest
from support.waiting import wait_until

import flaskobs


def test_with_no_checks_the_app_is_ready(tiny):
    response = tiny.test_client().get("/readyz")
    assert response.status_code == 200 and response.json == {"status": "ready", "checks": {}}


def test_a_passing_check_is_ok(tiny):
    flaskobs.add_readiness_check(tiny, "cache", lambda: None)
    assert tiny.test_client().get("/readyz").json == {"status": "ready", "checks": {"cache": "ok"}}


@pytest.mark.parametrize(("check", "shown"), [
    (lambda: False, "failed"),
    (lambda: 1 / 0, "error: ZeroDivisionError"),
    (lambda: (_ for _ in ()).throw(ConnectionError("postgres://user:secret@db")), "error: ConnectionError"),
])
def test_a_failing_check_is_a_503_naming_it_without_its_message(tiny, check, shown):
    flaskobs.add_readiness_check(tiny, "database", check)
    flaskobs.add_readiness_check(tiny, "cache", lambda: True)
    response = tiny.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "not ready", "checks": {"database": shown, "cache": "ok"}}
    assert "secret" not in response.get_data(as_text=True)


def test_not_ready_says_why(tiny):
    def queue():
        raise flaskobs.NotReady("3 jobs waiting")
    flaskobs.add_readiness_check(tiny, "queue", queue)
    assert tiny.test_client().get("/readyz").json["checks"] == {"queue": "not ready: 3 jobs waiting"}


def test_a_hanging_check_is_cut_off_and_not_started_again(make_tiny):
    app = make_tiny(READINESS_TIMEOUT="0.3")
    release, calls = threading.Event(), []

    def hangs():
        calls.append(1)
        release.wait(30)

    flaskobs.add_readiness_check(app, "upstream", hangs)
    client = app.test_client()
    try:
        for _ in range(3):
            started = time.monotonic()
            response = client.get("/readyz")
            assert time.monotonic() - started < 2
            assert response.status_code == 503
            assert response.json["checks"]["upstream"].startswith("timeout: no answer after")
        assert len(calls) == 1  # one stuck thread, not one per probe
    finally:
        release.set()
    # It finished: the next probe runs it again, and it passes.
    wait_until(lambda: client.get("/readyz").status_code == 200, 5, "the check to pass once released")


def test_bad_registrations_are_refused(tiny):
    with pytest.raises(TypeError, match="must be callable"):
        flaskobs.add_readiness_check(tiny, "x", "SELECT 1")
    flaskobs.add_readiness_check(tiny, "x", lambda: None)
    with pytest.raises(ValueError, match="already registered"):
        flaskobs.add_readiness_check(tiny, "x", lambda: None)


def test_database_check_runs_a_query(tiny, tmp_path):
    from sqlalchemy import create_engine
    flaskobs.add_readiness_check(tiny, "good", flaskobs.database_check(create_engine(f"sqlite:///{tmp_path}/a.db")))
    flaskobs.add_readiness_check(tiny, "bad", flaskobs.database_check(create_engine("sqlite:////nonexistent/d/a.db")))
    assert tiny.test_client().get("/readyz").json["checks"] == {"good": "ok", "bad": "error: OperationalError"}
