"""The logs profile's configuration, checked statically: the pipeline, Elasticsearch's
template, ILM and roles, the setup script, and the field contract between app, Nginx and them."""

import json
import re
import subprocess

import pytest
from support.docker import ROOT, image_present, image_vars

from flaskobs.logs import JsonFormatter

PIPELINE = (ROOT / "logstash/pipeline/main.conf").read_text()
DEAD_LETTERS = (ROOT / "logstash/pipeline/dead-letters.conf").read_text()
SETUP = ROOT / "services/setup"


def load(name: str) -> dict:
    return json.loads((SETUP / "config" / name).read_text())


def test_app_input_is_tcp_json_lines_on_the_apps_port():
    tcp = re.search(r"tcp\s*\{(.*?)\}", PIPELINE, re.S).group(1)
    assert re.search(r"port\s*=>\s*5959", tcp) and re.search(r"codec\s*=>\s*json_lines", tcp)
    # Option names logstash-input-tcp 7 refuses to start with.
    for obsolete in ("ssl_enable ", "ssl_cert ", "ssl_verify "):
        assert obsolete not in PIPELINE


def test_nginx_input_resumes_after_a_restart():
    file_input = re.search(r"file\s*\{(.*?)\n  \}", PIPELINE, re.S).group(1)
    assert '"/usr/share/logstash/data/sincedb-nginx-access"' in file_input  # on the data volume
    assert '"/var/log/nginx-access/access-*.json"' in file_input
    compose = (ROOT / "compose/compose.yaml").read_text()
    assert "nginx-logs:/var/log/nginx-access:ro" in compose and "logstash-data:/usr/share/logstash/data" in compose


@pytest.mark.parametrize("conf", [PIPELINE, DEAD_LETTERS])
def test_outputs_use_the_least_privileged_user_and_a_data_stream(conf):
    output = conf[conf.index("output {"):]
    assert 'user                  => "logstash_internal"' in output
    assert 'password              => "${LOGSTASH_INTERNAL_PASSWORD}"' in output
    assert 'data_stream           => "true"' in output
    dataset = re.search(r'data_stream_dataset\s*=>\s*"([^"]+)"', output).group(1)
    stream = f"logs-{dataset}-default"
    template = load("index-template.json")
    assert any(re.fullmatch(p.replace(".", r"\.").replace("*", ".*"), stream) for p in template["index_patterns"])
    role = load("role-logstash-writer.json")
    assert any(re.fullmatch(p.replace(".", r"\.").replace("*", ".*"), stream)
               for grant in role["indices"] for p in grant["names"])


def test_redelivered_events_are_indexed_once_and_quietly():
    assert 'document_id           => "%{[@metadata][doc_id]}"' in PIPELINE
    assert 'copy => { "event_id" => "[@metadata][doc_id]" }' in PIPELINE
    # A duplicate is a 409 on its id: dropped, as intended, without a warning carrying the event.
    assert re.search(r'silence_errors_in_log\s*=>\s*\["version_conflict_engine_exception"\]', PIPELINE)


def test_nginx_lines_carry_a_level_and_an_id_of_their_own():
    """Nginx's format has no level (every line was UNKNOWN and tagged _missing_level) and no
    event_id (lines were fingerprinted with second-resolution fields and could collide)."""
    nginx_branch = PIPELINE[PIPELINE.index('if ("nginx" in [tags] or "caddy" in [tags]) and ![level]'):]
    for status, level in ((">= 500", "ERROR"), (">= 400", "WARNING")):
        assert re.search(rf'\[status\] {status} \{{ mutate \{{ add_field => \{{ "level" => "{level}" }}', nginx_branch)
    assert 'else { mutate { add_field => { "level" => "INFO" } } }' in nginx_branch
    assert PIPELINE.index('if ("nginx" in [tags] or "caddy" in [tags]) and ![level]') < PIPELINE.index("if ![level]")
    log_format = (ROOT / "services/nginx/config/templates/http.conf.template").read_text()
    assert '"event_id":"$request_id"' in log_format  # Nginx's own per-request id, never the client's


def test_the_dead_letter_queue_deletes_what_it_has_read():
    """Without clean_consumed, read segments stay until dead_letter_queue.max_bytes, and then
    new rejects are dropped."""
    assert re.search(r"clean_consumed\s*=>\s*true", DEAD_LETTERS)
    assert "dead_letter_queue.max_bytes" in (ROOT / "README.md").read_text()


def test_logstash_settings_use_current_names():
    settings = (ROOT / "logstash/config/logstash.yml").read_text()
    keys = [line.split(":")[0] for line in settings.splitlines() if line and not line.startswith("#")]
    assert "api.http.host" in keys and "http.host" not in keys  # http.host is deprecated since 8.x


def test_nothing_accepted_is_dropped():
    settings = (ROOT / "logstash/config/logstash.yml").read_text()
    assert "queue.type: persisted" in settings and "dead_letter_queue.enable: true" in settings
    assert "dead_letter_queue" in DEAD_LETTERS and not re.search(r"\bdrop\s*\{", PIPELINE + DEAD_LETTERS)
    for tag in ("_missing_level", "_missing_logger", "_message_truncated"):
        assert tag in PIPELINE


def test_elasticsearch_json_files_are_valid_and_consistent():
    policy = load("ilm-policy.json")
    assert policy["policy"]["phases"]["delete"]["min_age"] == "__LOG_RETENTION__"  # filled from LOG_RETENTION
    template = load("index-template.json")
    assert template["template"]["settings"]["index.lifecycle.name"] == "logs-flask"
    assert "data_stream" in template
    assert load("data-view.json")["data_view"]["title"] == "logs-flask*"
    reader = load("role-grafana-reader.json")
    assert reader["indices"][0]["privileges"] == ["read", "view_index_metadata"]


def mapped_fields() -> set[str]:
    return set(load("index-template.json")["template"]["mappings"]["properties"])


def test_every_field_the_app_sends_has_a_mapping(make_app, capsys):
    """The contract: the app's JSON lines, as shipped, use only fields the template maps."""
    app = make_app()
    client = app.test_client()
    client.post("/api/items", json={"name": "tea", "price": 1}, headers={"X-Request-ID": "contract-1"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines
    extras = {"item_id"}  # per-call extras map dynamically (strings as keywords, numbers as numbers)
    for line in lines:
        assert set(line) - mapped_fields() - extras == set(), line
    record = JsonFormatter({"service": "s", "environment": "e", "version": "v"})
    assert set(json.loads(record.format(__import__("logging").makeLogRecord({"msg": "x"})))) <= mapped_fields()


def test_every_field_nginx_logs_has_a_mapping():
    template = (ROOT / "services/nginx/config/templates/http.conf.template").read_text()
    start = template.index("log_format flaskobs_json")
    log_format = template[start:template.index("}';", start)]
    fields = set(re.findall(r'"([a-z_@]+)":', log_format))
    assert {"request_id", "status", "request_time", "upstream_response_time"} <= fields
    assert fields - mapped_fields() - {"request", "referer", "host", "scheme"} == set()


def test_setup_script_is_valid_bash_and_idempotent_by_design():
    subprocess.run(["bash", "-n", str(SETUP / "setup.sh")], check=True)
    script = (SETUP / "setup.sh").read_text()
    assert "set -euo pipefail" in script
    # PUT (create or replace) and password resets only: running it again converges.
    assert 'call PUT "/_security/role/$role"' in script and 'call PUT "/_security/user/$user"' in script
    assert not re.search(r"call POST /_security/role/", script)
    for secret in ("ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD", "LOGSTASH_INTERNAL_PASSWORD", "GRAFANA_ES_PASSWORD"):
        assert f"${{{secret}:?}}" in script


@pytest.mark.registry_image
@pytest.mark.parametrize("pipeline", ["main.conf", "dead-letters.conf"])
def test_pipeline_config_passes_logstash_own_check(pipeline):
    image = image_vars().get("LOGSTASH_IMAGE", "")
    if not image_present(image):
        pytest.skip(f"{image} is not in the engine and no registry is reachable")
    # The dead_letter_queue input checks that its path exists: make it as a running Logstash has it.
    check = ("mkdir -p /usr/share/logstash/data/dead_letter_queue/main && logstash --config.test_and_exit "
             f"-f /usr/share/logstash/pipeline/{pipeline}")
    out = subprocess.run(["docker", "run", "--rm", "-e", "LOGSTASH_INTERNAL_PASSWORD=x", "--entrypoint", "bash",
                          "-v", f"{ROOT}/logstash/pipeline:/usr/share/logstash/pipeline:ro",
                          "-v", f"{ROOT}/logstash/config/logstash.yml:/usr/share/logstash/config/logstash.yml:ro",
                          image, "-c", check], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]


def test_every_field_made_from_a_caddy_line_has_a_mapping():
    """PROXY=caddy: the pipeline renames Caddy's access line to the names Nginx's line uses."""
    start = PIPELINE.index('if "caddy" in [tags] {')
    block = PIPELINE[start:PIPELINE.index("# The same field names", start)]
    fields = set(re.findall(r'event\.set\("([a-z_@]+)"', block))
    assert {"request_id", "method", "path", "duration_ms"} <= fields
    assert fields - mapped_fields() == set()
    assert '"/var/log/nginx-access/caddy-access*.json"' in PIPELINE
    caddy = (ROOT / "services/caddy/entrypoint.sh").read_text()
    assert "output file $dir/caddy-access.json" in caddy and "dir=/var/log/caddy/flaskobs" in caddy
    assert "nginx-logs:/var/log/caddy/flaskobs" in (ROOT / "compose/proxy-caddy.yaml").read_text()
