"""The fields every JSON log line carries: event ids unique across forked workers, timestamps
exact to the millisecond."""

import calendar
import os
import time

from flaskobs.logs import event_id, timestamp


def test_event_ids_are_unique_in_a_process_and_across_a_fork():
    before = [event_id() for _ in range(1000)]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a Gunicorn worker is a fork of the master: it must not repeat the master's ids
        os.write(write, " ".join(event_id() for _ in range(1000)).encode())
        os._exit(0)
    os.close(write)
    parent = before + [event_id() for _ in range(1000)]  # the same count the child made
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    assert len(set(parent)) == 2000 and len(set(child)) == 1000
    assert not set(parent) & set(child)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in parent + child)


def test_timestamp_is_utc_with_milliseconds_across_second_boundaries():
    for moment in (0.0, 1_700_000_000.999, 1_700_000_001.0, 1_700_000_001.5, 1_699_999_999.25):
        text = timestamp(moment)
        whole, millis = text[:-1].split(".")
        assert calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) == int(moment)
        assert int(millis) == int(moment % 1 * 1000) and text.endswith("Z")
