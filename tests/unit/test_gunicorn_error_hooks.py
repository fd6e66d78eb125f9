"""flaskobs.gunicorn_errors replaces gunicorn.util.write_error; gunicorn is pinned exactly, and
these are the signature and the call it relies on."""

import inspect

from gunicorn import util
from gunicorn.workers import base


def test_write_error_signature():
    assert list(inspect.signature(util.write_error).parameters) == ["sock", "status_int", "reason", "mesg"]


def test_handle_error_makes_the_call_we_replace():
    handle_error = base.Worker.handle_error
    assert "util.write_error(client, status_int, reason, mesg)" in inspect.getsource(handle_error)


def test_no_worker_class_has_its_own_handle_error():
    from gunicorn.workers import gthread, sync
    assert sync.SyncWorker.handle_error is base.Worker.handle_error
    assert gthread.ThreadWorker.handle_error is base.Worker.handle_error
