"""Our files, type-checked against upstream's own published types for the versions we pin
(tests/typecheck/package.json): every Grafana dashboard against @grafana/schema 12.2.1, its
Prometheus queries and the Prometheus datasource's exemplar links against @grafana/prometheus's
types (the nearest build to 12.2.1), every request body setup.sh sends to Elasticsearch against
@elastic/elasticsearch 8.19's API types.
Grafana and Elasticsearch cannot run here; their types can. `satisfies` checks an object
literal for missing required fields and for unknown ones.

Kibana's data view body (data-view.json) has no published types and is not checked here; the
registry tier creates it for real."""

import json
import shutil
import subprocess

import pytest
from support.docker import ROOT
from support.grafana import datasources, targets

TYPECHECK = ROOT / "tests/typecheck"
TSC = TYPECHECK / "node_modules/.bin/tsc"
SETUP = ROOT / "services/setup/config"

# setup.sh's bodies -> the Elasticsearch request type each one is the body of (minus its path
# parameters), with the values setup.sh fills in.
ES_BODIES = {
    "role-logstash-writer.json": ('Omit<estypes.SecurityPutRoleRequest, "name">', {}),
    "role-grafana-reader.json": ('Omit<estypes.SecurityPutRoleRequest, "name">', {}),
    "user.json": ('Omit<estypes.SecurityPutUserRequest, "username">', {"PASSWORD": "pw", "ROLE": "r"}),
    "password.json": ('Omit<estypes.SecurityChangePasswordRequest, "username">', {"PASSWORD": "pw"}),
    "ilm-policy.json": ('Omit<estypes.IlmPutLifecycleRequest, "name">', {"LOG_RETENTION": "14d"}),
    "index-template.json": ('Omit<estypes.IndicesPutIndexTemplateRequest, "name">', {}),
}


def dashboard_source(dashboard: dict) -> str:
    return ('import type { Dashboard } from "@grafana/schema";\n'
            f"export const dashboard = {json.dumps(dashboard, indent=2)} satisfies Dashboard;\n")


# Written into tests/typecheck/.generated/<test>/: the vendored types are two levels up.
PROMETHEUS_TYPES = "../../vendor/grafana-prometheus"


def prometheus_datasource() -> dict:
    return next(d for d in datasources() if d["type"] == "prometheus")


def prometheus_targets() -> list[dict]:
    """Every Prometheus query of every dashboard."""
    return [t for _, _, t in targets() if t["datasource"]["type"] == "prometheus"]


def prometheus_source(json_data: dict, targets: list[dict]) -> str:
    return (f'import type {{ PromOptions }} from "{PROMETHEUS_TYPES}/types.js";\n'
            f'import type {{ Prometheus }} from "{PROMETHEUS_TYPES}/dataquery.js";\n'
            f"export const jsonData = {json.dumps(json_data, indent=2)} satisfies PromOptions;\n"
            f"export const targets = {json.dumps(targets, indent=2)} satisfies Prometheus[];\n")


def es_body_source(body: dict, type_name: str) -> str:
    return ('import type { estypes } from "@elastic/elasticsearch";\n'
            f"export const body = {json.dumps(body, indent=2)} satisfies {type_name};\n")


def filled(name: str, values: dict) -> dict:
    text = (SETUP / name).read_text()
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    return json.loads(text)


def typecheck(sources: dict[str, str], workdir) -> subprocess.CompletedProcess:
    """Write the sources into tests/typecheck (where node_modules resolves) and run tsc on them."""
    if not TSC.exists():
        pytest.fail("the pinned type packages are not installed: `make venv` runs npm ci in tests/typecheck "
                    "(Node.js and npm must be on the PATH)")
    generated = TYPECHECK / ".generated" / workdir.name
    shutil.rmtree(generated, ignore_errors=True)
    generated.mkdir(parents=True)
    for name, source in sources.items():
        (generated / name).write_text(source)
    (generated / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "es2022", "module": "nodenext",
                            "moduleResolution": "nodenext", "skipLibCheck": True},
        "files": sorted(sources)}))
    try:
        return subprocess.run([str(TSC), "-p", str(generated / "tsconfig.json")], capture_output=True, text=True,
                              timeout=300)
    finally:
        shutil.rmtree(generated, ignore_errors=True)


def test_every_dashboard_satisfies_grafanas_schema(tmp_path):
    sources = {f"{path.stem}.ts": dashboard_source(json.loads(path.read_text()))
               for path in sorted((ROOT / "grafana/dashboards").glob("*.json"))}
    assert len(sources) == 5
    out = typecheck(sources, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_prometheus_queries_and_exemplar_links_satisfy_grafanas_prometheus_types(tmp_path):
    json_data, targets = prometheus_datasource()["jsonData"], prometheus_targets()
    assert json_data["exemplarTraceIdDestinations"] and any(t.get("exemplar") for t in targets)
    out = typecheck({"prometheus.ts": prometheus_source(json_data, targets)}, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_exemplar_links_reach_grafana_unexpanded():
    """Grafana expands $VAR and ${VAR} in provisioning files from its environment; the links'
    ${__value.raw} (the exemplar's label) must reach it as $${...}, the escape for a literal $."""
    for destination in prometheus_datasource()["jsonData"]["exemplarTraceIdDestinations"]:
        url = destination.get("url", "")
        assert url.replace("$${", "").count("${") == url.count("${KIBANA_PUBLIC_URL}"), url
        if url:
            assert "$${__value.raw}" in url, url


def test_every_body_setup_sends_satisfies_the_elasticsearch_types(tmp_path):
    sent = {p.name for p in SETUP.glob("*.json")} - {"data-view.json"}
    assert sent == set(ES_BODIES), "a body setup.sh sends has no type to check against"
    sources = {f"{name.removesuffix('.json')}.ts": es_body_source(filled(name, values), type_name)
               for name, (type_name, values) in ES_BODIES.items()}
    out = typecheck(sources, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(("case", "expected"), [
    ("link without the fields Grafana 12.2 requires", "missing the following properties from type 'DashboardLink'"),
    ("panel field misspelt", "\"titel\"' does not exist in type 'Panel"),
    ("role privileges misspelt", "\"indice\"' does not exist in type 'Omit<SecurityPutRoleRequest"),
    ("ILM phase with a wrong type", "Type '14' is not assignable to type 'Duration"),
    ("exemplar link misspelt", "\"datasourceUID\"' does not exist in type 'ExemplarTraceIdDestination"),
    ("exemplar flag with a wrong type", "Type 'string' is not assignable to type 'boolean"),
])
def test_the_checks_fail_on_what_upstream_refuses(tmp_path, case, expected):
    """Negative controls: each check, on a file with one known mistake, fails naming it."""
    dashboard = json.loads((ROOT / "grafana/dashboards/nginx.json").read_text())
    if case.startswith("link"):
        dashboard["links"] = [{"title": "x", "type": "link", "url": "/d/x", "keepTime": True, "targetBlank": False}]
        source = dashboard_source(dashboard)
    elif case.startswith("panel"):
        dashboard["panels"][0]["titel"] = dashboard["panels"][0].pop("title")
        source = dashboard_source(dashboard)
    elif case.startswith("exemplar link"):
        json_data = prometheus_datasource()["jsonData"]
        json_data["exemplarTraceIdDestinations"][0]["datasourceUID"] = "x"
        source = prometheus_source(json_data, prometheus_targets())
    elif case.startswith("exemplar flag"):
        targets = prometheus_targets()
        targets[0]["exemplar"] = "yes"
        source = prometheus_source(prometheus_datasource()["jsonData"], targets)
    elif case.startswith("role"):
        role = filled("role-logstash-writer.json", {})
        role["indice"] = role.pop("indices")
        source = es_body_source(role, ES_BODIES["role-logstash-writer.json"][0])
    else:
        policy = filled("ilm-policy.json", {"LOG_RETENTION": "14d"})
        policy["policy"]["phases"]["delete"]["min_age"] = 14
        source = es_body_source(policy, ES_BODIES["ilm-policy.json"][0])
    out = typecheck({"mistake.ts": source}, tmp_path)
    assert out.returncode != 0 and expected in out.stdout, out.stdout
