"""services/setup/setup.sh, run for real (bash, curl) against ElasticsearchDouble, a TEST
DOUBLE for the Elasticsearch and Kibana APIs it calls."""

import json
import os
import signal
import subprocess

import pytest
from support.docker import ROOT
from support.es_double import ElasticsearchDouble
from support.waiting import wait_until

SETUP = ROOT / "services/setup"
# Test values: quotes, a backslash, & and / in one of them, as a user's own password may have.
PASSWORDS = {"ELASTIC_PASSWORD": "elastic-pw", "KIBANA_SYSTEM_PASSWORD": 'kib"ana\\&/pw',
             "LOGSTASH_INTERNAL_PASSWORD": "logstash-pw", "GRAFANA_ES_PASSWORD": "grafana-pw"}


@pytest.fixture
def run_setup(tmp_path):
    started = []

    def run(double: ElasticsearchDouble, **env) -> subprocess.Popen:
        proc = subprocess.Popen(["bash", str(SETUP / "setup.sh")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env={**os.environ, **PASSWORDS, "ES_URL": double.url,
                                                "KIBANA_URL": double.url, "SETUP_DONE_FILE": str(tmp_path / "done"),
                                                **env})
        started.append(proc)
        return proc
    yield run
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def test_it_waits_for_the_built_in_templates_and_sends_valid_bodies(tmp_path, run_setup):
    marker = tmp_path / "done"
    marker.write_text("left by an earlier run")  # a restart must not be healthy before it runs again
    double = ElasticsearchDouble(templates_after=2, password=PASSWORDS["ELASTIC_PASSWORD"], marker=marker).start()
    try:
        proc = run_setup(double)
        wait_until(lambda: any(r["path"] == "/api/data_views/data_view" for r in double.requests) or
                   proc.poll() is not None, 60, "setup to reach Kibana's data view")
        assert proc.poll() is None, proc.stdout.read()  # it stays up, healthy
        assert marker.exists()
        calls = [(r["method"], r["path"].split("?")[0]) for r in double.requests]
        # The stale marker was gone before the first request; the index template waited.
        assert not double.requests[0]["marker_present"]
        template = calls.index(("PUT", "/_index_template/logs-flask"))
        assert calls[:template].count(("GET", "/_component_template/logs@mappings")) == 3
        assert ("GET", "/_component_template/logs@settings") in calls[:template]
        bodies = {path: json.loads(r["body"]) for r in double.requests if r["body"]
                  for path in [r["path"].split("?")[0]]}
        assert bodies["/_security/user/kibana_system/_password"] == {"password": PASSWORDS["KIBANA_SYSTEM_PASSWORD"]}
        assert bodies["/_security/user/grafana_reader"] == {"password": "grafana-pw", "roles": ["grafana_reader"]}
        assert bodies["/_ilm/policy/logs-flask"]["policy"]["phases"]["delete"]["min_age"] == "14d"
        assert bodies["/_index_template/logs-flask"] == json.loads((SETUP / "config/index-template.json").read_text())
    finally:
        double.stop()


def test_a_sigterm_stops_it_at_once_as_compose_stops_it(run_setup):
    """compose.yaml runs it with init: true, which passes SIGTERM on to the process."""
    double = ElasticsearchDouble(templates_after=0).start()
    try:
        proc = run_setup(double)
        wait_until(lambda: any(r["path"] == "/api/data_views/data_view" for r in double.requests), 60,
                   "setup to finish")
        proc.send_signal(signal.SIGTERM)
        proc.wait(3)
    finally:
        double.stop()


def test_a_wrong_elastic_password_says_where_the_password_lives(run_setup):
    double = ElasticsearchDouble(password=PASSWORDS["ELASTIC_PASSWORD"] + "-but-another").start()
    try:
        proc = run_setup(double)
        out, _ = proc.communicate(timeout=400)
    finally:
        double.stop()
    assert proc.returncode != 0
    assert "bootstrap password Elasticsearch keeps in its keystore" in out
    assert "security index on the es-data volume" in out


def test_compose_runs_it_under_an_init(tmp_path):
    from support.docker import compose_config, require_engine, write_test_env
    require_engine()
    setup = compose_config(["logs"], write_test_env(tmp_path))["services"]["setup"]
    assert setup["init"] is True
