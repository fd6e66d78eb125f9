"""What flaskobs overrides in python-logstash-async, prometheus_client and Gunicorn, and relies
on, is still what it was when the code was written (the pinned versions).

Each entry below is a method or attribute flaskobs overrides or uses although the library does
not document it: its signature, and a digest of the source of the methods whose *behaviour* we
depend on (the worker loop that calls what we override, the handler that starts the worker).
When a new version changes one, the test says which, so whoever moves a pin in requirements.txt
and pyproject.toml knows what to read before changing flaskobs/logship.py or gunicorn_metrics.py.
"""

import hashlib
import importlib
import importlib.metadata
import inspect

import pytest

PINS = {"python-logstash-async": "4.1.0", "prometheus-client": "0.26.0", "gunicorn": "27.0.1"}

# "module:Class.member" -> the signature flaskobs was written against, or "attribute".
SIGNATURES = {
    "logstash_async.database:DatabaseCache.__init__": "(self, path, event_ttl=None)",
    "logstash_async.database:DatabaseCache._open": "(self)",
    "logstash_async.database:DatabaseCache._close": "(self)",
    "logstash_async.database:DatabaseCache._connect": "(self)",
    "logstash_async.database:DatabaseCache.add_event": "(self, event)",
    "logstash_async.database:DatabaseCache.get_queued_events": "(self)",
    "logstash_async.database:DatabaseCache.delete_queued_events": "(self)",
    "logstash_async.database:DatabaseCache.expire_events": "(self)",
    "logstash_async.database:DatabaseCache.get_non_flushed_event_count": "(self)",
    "logstash_async.worker:LogProcessingWorker._fetch_event": "(self)",
    "logstash_async.worker:LogProcessingWorker._write_event_to_database": "(self)",
    "logstash_async.worker:LogProcessingWorker._requeue_event": "(self)",
    "logstash_async.worker:LogProcessingWorker._setup_database": "(self)",
    "logstash_async.worker:LogProcessingWorker.run": "(self)",
    "logstash_async.transport:TcpTransport._send": "(self, events)",
    "logstash_async.transport:TcpTransport._close": "(self, force=False)",
    "logstash_async.transport:TcpTransport.send": "(self, events, use_logging=False)",
    "logstash_async.handler:AsynchronousLogstashHandler._start_worker_thread": "(self)",
    "logstash_async.handler:AsynchronousLogstashHandler._worker_thread_is_running": "()",
    "logstash_async.handler:AsynchronousLogstashHandler._setup_transport": "(self, **kwargs)",
    "logstash_async.handler:AsynchronousLogstashHandler._worker_thread": "attribute",
    "logstash_async.handler:AsynchronousLogstashHandler._format_record": "(self, record)",
    "prometheus_client.mmap_dict:MmapedDict.__init__": "(self, filename, read_mode=False)",
    "prometheus_client.mmap_dict:MmapedDict.read_value": "(self, key)",
    "prometheus_client.mmap_dict:MmapedDict.write_value": "(self, key, value, timestamp)",
    "prometheus_client.mmap_dict:MmapedDict.read_all_values_from_file": "(filename)",
    "prometheus_client.multiprocess:mark_process_dead": "(pid, path=None)",
    "prometheus_client.multiprocess:MultiProcessCollector.merge": "(files, accumulate=True)",
    "gunicorn.glogging:Logger.access": "(self, resp, req, environ, request_time)",
    "gunicorn.glogging:Logger.setup": "(self, cfg)",
    "gunicorn.util:import_app": "(module)",
    # gunicorn_conf._delay_shutdown queues the delayed SIGTERM through the master's own handler.
    "gunicorn.arbiter:Arbiter.signal": "(self, sig, frame)",
}

# The source of the code whose behaviour flaskobs depends on, as of the pinned versions.
DIGESTS = {
    "logstash_async.worker:LogProcessingWorker.__init__": "ff70337e039fbedd",
    "logstash_async.worker:LogProcessingWorker.run": "e1844381086315d1",
    "logstash_async.worker:LogProcessingWorker._fetch_events": "9c2fdc41019f4852",
    "logstash_async.worker:LogProcessingWorker._process_event": "291179e7e325626c",
    "logstash_async.worker:LogProcessingWorker._flush_queued_events": "727671418c8f0bfd",
    "logstash_async.worker:LogProcessingWorker._fetch_queued_events_for_flush": "05673aad830dce7c",
    "logstash_async.worker:LogProcessingWorker._delete_queued_events_from_database": "fe51c34f2b013dab",
    "logstash_async.handler:AsynchronousLogstashHandler.emit": "909e0e969e9f6598",
    "logstash_async.handler:AsynchronousLogstashHandler.__init__": "bf66f2c1d9ea0334",  # sets _database_path
    "logstash_async.handler:AsynchronousLogstashHandler._start_worker_thread": "e1eaef32c0ef7fe1",
    "logstash_async.database:DatabaseCache._connect": "1246dd9eae186d9e",
    "logstash_async.database:DatabaseCache.get_queued_events": "dda9bb4d26367a78",
    "logstash_async.transport:TcpTransport.send": "d78431efccb963ef",
    "prometheus_client.mmap_dict:MmapedDict": "6e06f65ed9e69bbe",
    "prometheus_client.multiprocess:mark_process_dead": "4225817cc4d3bc1e",
    "prometheus_client.multiprocess:MultiProcessCollector.collect": "86fc50ce2593e7a2",
    # gunicorn_metrics.exit_reason: the worker's alive, nr, max_requests and aborted, which the
    # worker_exit hook (in the worker, on any Python-level exit) and child_exit (in the master,
    # after waitpid) read.
    "gunicorn.workers.base:Worker.__init__": "e0f1de2d60574066",
    "gunicorn.workers.base:Worker.handle_abort": "ca347b2ae3685c09",
    "gunicorn.arbiter:Arbiter.murder_workers": "3f8fbfdf473fe338",
    "gunicorn.arbiter:Arbiter.spawn_worker": "6abc0d90b0b9f80b",
    "gunicorn.arbiter:Arbiter.reap_workers": "ebcf4187e9ebf378",
    # gunicorn_conf._delay_shutdown: init_signals runs before when_ready, which replaces SIGTERM's handler.
    "gunicorn.arbiter:Arbiter.start": "92668bdb3e86b1af",
}


def resolve(ref: str):
    module, _, path = ref.partition(":")
    obj = importlib.import_module(module)
    for part in path.split("."):
        obj = getattr(obj, part) if not isinstance(obj, type) else inspect.getattr_static(obj, part)
    return obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj


def digest(obj) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def mismatches(signatures: dict, digests: dict) -> list[str]:
    """What differs from what flaskobs was written against, one line each (empty: nothing)."""
    found = []
    for ref, expected in signatures.items():
        try:
            obj = resolve(ref)
        except AttributeError:
            found.append(f"{ref} no longer exists")
            continue
        if expected != "attribute":
            actual = str(inspect.signature(obj))
            if actual != expected:
                found.append(f"{ref} is now {actual}, was {expected}")
    for ref, expected in digests.items():
        actual = digest(resolve(ref))
        if actual != expected:
            found.append(f"{ref} changed (source digest {actual}, was {expected})")
    return found


def test_the_pins_are_the_versions_installed():
    for package, version in PINS.items():
        assert importlib.metadata.version(package) == version, (
            f"{package} {importlib.metadata.version(package)} is installed; flaskobs pins {version}")


def test_what_flaskobs_overrides_is_unchanged():
    problems = mismatches(SIGNATURES, DIGESTS)
    assert not problems, ("upstream changed what flaskobs overrides or relies on; review flaskobs/logship.py "
                          "and flaskobs/gunicorn_metrics.py against it, then update this test:\n  "
                          + "\n  ".join(problems))


def test_gunicorn_marks_its_own_handlers():
    """gunicorn_logging.JsonLogger restyles only the handlers Gunicorn marks `_gunicorn`."""
    from gunicorn.config import Config

    from flaskobs.gunicorn_logging import JsonLogger
    from flaskobs.logs import JsonFormatter
    handlers = JsonLogger(Config()).error_log.handlers
    marked = [h for h in handlers if getattr(h, "_gunicorn", False)]
    assert len(marked) == 1 and isinstance(marked[0].formatter, JsonFormatter)
    assert not [h for h in handlers if h not in marked and isinstance(h.formatter, JsonFormatter)]


def test_metric_files_are_named_by_type_mode_and_pid(tmp_path):
    """gunicorn_metrics.fold_dead_worker finds a worker's files by this naming."""
    import os
    import subprocess
    import sys
    code = ("from prometheus_client import Counter, Gauge; Counter('c', 'c').inc(); "
            "Gauge('g', 'g', multiprocess_mode='max').set(1); import os; print(os.getpid())")
    pid = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert sorted(os.listdir(tmp_path)) == [f"counter_{pid}.db", f"gauge_max_{pid}.db"]


@pytest.mark.parametrize("change", ["signature", "digest", "gone"])
def test_the_check_fails_when_upstream_changes(change):
    """Negative control: a different signature, source or a missing member is reported."""
    ref = "logstash_async.worker:LogProcessingWorker._fetch_event"
    if change == "signature":
        problems = mismatches({ref: "(self, block=True)"}, {})
    elif change == "digest":
        problems = mismatches({}, {ref: "0000000000000000"})
    else:
        problems = mismatches({"logstash_async.worker:LogProcessingWorker._fetch_event_batch": "(self)"}, {})
    assert len(problems) == 1 and "_fetch_event" in problems[0], problems
