"""Folding dead workers' metric files: totals stay exact, the file count stays bounded."""

import os
import struct
import subprocess
import sys
import textwrap
import threading

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from flaskobs import gunicorn_metrics

WORKER = textwrap.dedent("""
    import os, sys
    from prometheus_client import Counter, Gauge, Histogram
    n = int(sys.argv[1])
    c = Counter("jobs", "jobs", ["kind"])
    h = Histogram("latency_seconds", "latency", buckets=(0.1, 1.0))
    g = Gauge("peak", "peak", multiprocess_mode="max")
    for i in range(n):
        c.labels("a").inc()
        h.observe(0.05 if i % 2 else 0.5)
    g.set(n)
    print(os.getpid())
""")


def run_worker(directory, n) -> int:
    """Run a real process that writes multiprocess metrics; return its pid."""
    proc = subprocess.run([sys.executable, "-c", WORKER, str(n)], capture_output=True, text=True, check=True,
                          env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory})
    return int(proc.stdout)


def scrape(directory) -> dict[str, float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    values = {}
    for line in generate_latest(registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_folding_keeps_totals_exact_and_files_bounded(tmp_path):
    directory = str(tmp_path)
    expected_jobs = 0
    for n in (3, 5, 7, 11):
        pid = run_worker(directory, n)
        expected_jobs += n
        before = scrape(directory)
        gunicorn_metrics.fold_dead_worker(pid, directory)
        after = scrape(directory)
        assert after == before  # the fold is invisible to a scrape
        assert sorted(os.listdir(directory)) == ["counter_archive.db", "gauge_max_archive.db",
                                                 "histogram_archive.db"]
    values = scrape(directory)
    assert values['jobs_total{kind="a"}'] == expected_jobs
    assert values["latency_seconds_count"] == expected_jobs
    assert values['latency_seconds_bucket{le="0.1"}'] == 1 + 2 + 3 + 5  # odd i: 0.05
    assert values["peak"] == 11  # max of the dead workers' gauges


def test_scrape_and_fold_never_interleave(tmp_path):
    """A scrape running while a worker is folded sees its values exactly once."""
    directory = str(tmp_path)
    pids = [run_worker(directory, 4) for _ in range(6)]
    total = 24
    collector = gunicorn_metrics._LockedMultiProcessCollector(directory)
    seen = []
    folder = threading.Thread(target=lambda: [gunicorn_metrics.fold_dead_worker(p, directory) for p in pids])
    folder.start()
    # At least one whole scrape even when the folds end first (a busy machine runs them before it).
    while folder.is_alive() or not seen:
        for metric in collector.collect():
            for s in metric.samples:
                if s.name == "jobs_total":
                    seen.append(s.value)
    folder.join()
    assert seen and set(seen) == {float(total)}


def test_a_file_still_being_created_is_read_as_empty_and_folded_away(tmp_path):
    """MmapedDict creates a worker's file, then sizes it. Between the two, prometheus_client's own
    collector fails on it (negative control); ours reads it as holding nothing yet, and folding a
    worker killed in that moment deletes it (it raised, and the file stayed to fail every scrape)."""
    directory = str(tmp_path)
    pid = run_worker(directory, 4)
    (tmp_path / "counter_999999.db").touch()  # a worker between creating and sizing its file
    with pytest.raises(struct.error):
        list(MultiProcessCollector(None, directory).collect())
    collector = gunicorn_metrics._LockedMultiProcessCollector(directory)
    totals = [s.value for m in collector.collect() for s in m.samples if s.name == "jobs_total"]
    assert totals == [4.0]
    assert gunicorn_metrics.fold_dead_worker(999999, directory) == 1
    gunicorn_metrics.fold_dead_worker(pid, directory)
    assert sorted(os.listdir(directory)) == ["counter_archive.db", "gauge_max_archive.db", "histogram_archive.db"]
    assert scrape(directory)['jobs_total{kind="a"}'] == 4


def test_a_scrape_imports_nothing(tmp_path, monkeypatch):
    """The master forks workers while its scrape thread runs. An import in that thread holds an
    import lock that a forked worker inherits locked: its own import of that module then hangs
    forever (seen as workers ignoring SIGTERM until SIGKILL)."""
    import subprocess as sp
    import sys as system
    code = textwrap.dedent(f"""
        import os, sys, types
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
        from flaskobs import gunicorn_metrics
        exits = dict.fromkeys(gunicorn_metrics.EXIT_REASONS, 0)
        collector = gunicorn_metrics.WorkerCollector(lambda: {{os.getpid()}}, lambda: 1, exits, {str(tmp_path)!r})
        before = set(sys.modules)
        list(collector.collect())
        print(sorted(set(sys.modules) - before))
    """)
    out = sp.run([system.executable, "-c", code], capture_output=True, text=True, check=True,
                 cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == "[]"


def write_files(root, files: dict) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_container_memory_from_cgroup_v2_and_v1(tmp_path):
    """Working set = usage less inactive page cache; the limit as the kernel holds it."""
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    write_files(v2, {"memory.current": "300000000\n", "memory.max": "536870912\n",
                     "memory.stat": "anon 1\ninactive_file 100000000\nactive_file 5\n"})
    write_files(v1, {"memory/memory.usage_in_bytes": "300000000\n", "memory/memory.limit_in_bytes": "536870912\n",
                     "memory/memory.stat": "cache 9\ninactive_file 7\ntotal_inactive_file 100000000\n"})
    assert gunicorn_metrics.cgroup_memory(str(v2)) == (200000000, 536870912)
    assert gunicorn_metrics.cgroup_memory(str(v1)) == (200000000, 536870912)


def test_no_limit_and_no_cgroup_are_none(tmp_path):
    write_files(tmp_path / "v2", {"memory.current": "1000\n", "memory.max": "max\n", "memory.stat": ""})
    write_files(tmp_path / "v1", {"memory/memory.usage_in_bytes": "1000\n",
                                  "memory/memory.limit_in_bytes": "9223372036854771712\n"})
    assert gunicorn_metrics.cgroup_memory(str(tmp_path / "v2")) == (1000, None)
    assert gunicorn_metrics.cgroup_memory(str(tmp_path / "v1")) == (1000, None)
    assert gunicorn_metrics.cgroup_memory(str(tmp_path / "none")) == (None, None)
