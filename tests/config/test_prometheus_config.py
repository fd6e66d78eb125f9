"""Prometheus configuration and rules, checked by promtool inside the Prometheus image."""

import subprocess

import pytest
from support.docker import ROOT, load_script, tool_in_image


def promtool(*args: str, mounts: dict[str, str] | None = None,
             platform: str = "compose") -> subprocess.CompletedProcess:
    return tool_in_image("PROMETHEUS_IMAGE", "promtool", *args,
                         mounts={f"{ROOT}/prometheus": "/etc/prometheus",
                                 f"{ROOT}/prometheus/targets/{platform}": "/etc/prometheus-targets", **(mounts or {})})


@pytest.mark.parametrize("platform", ["compose", "swarm", "compose-caddy"])
def test_config_is_valid(platform):
    out = promtool("check", "config", "/etc/prometheus/prometheus.yml", platform=platform)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@pytest.mark.parametrize(("platform", "proxy"), [("compose", "nginx"), ("swarm", "nginx"), ("compose-caddy", "caddy")])
def test_each_platform_scrapes_the_app_and_its_proxy(platform, proxy):
    """prometheus.yml leaves the app's and the proxy's jobs (and the probe of the proxy's
    certificate) to the platform's targets file, which it loads from where all mount it."""
    import yaml
    main = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    assert main["scrape_config_files"] == ["/etc/prometheus-targets/*.yml"]
    targets = yaml.safe_load((ROOT / f"prometheus/targets/{platform}/targets.yml").read_text())
    jobs = [job["job_name"] for job in targets["scrape_configs"]]
    assert sorted(jobs) == sorted(["flask", proxy, "tls"])
    tls = next(job for job in targets["scrape_configs"] if job["job_name"] == "tls")
    assert tls["static_configs"][0]["targets"] == [f"{proxy}:8443"]
    assert not set(jobs) & {job["job_name"] for job in main["scrape_configs"]}


def test_rules_are_valid():
    rules = sorted(p.name for p in (ROOT / "prometheus/rules").glob("*.rules.yml"))
    assert rules == ["alerts.rules.yml", "flask.rules.yml"]
    out = promtool("check", "rules", *(f"/etc/prometheus/rules/{r}" for r in rules))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("rules", ["alerts", "flask"])
def test_rule_unit_tests_pass(rules):
    assert (ROOT / f"prometheus/rules/{rules}.rules.test.yml").exists(), "every rules file has a test file"
    out = promtool("test", "rules", f"/etc/prometheus/rules/{rules}.rules.test.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_is_tested_and_documented():
    import yaml
    alerts = yaml.safe_load((ROOT / "prometheus/rules/alerts.rules.yml").read_text())
    tests = (ROOT / "prometheus/rules/alerts.rules.test.yml").read_text()
    for group in alerts["groups"]:
        for rule in group["rules"]:
            assert f"alertname: {rule['alert']}" in tests, f"{rule['alert']} has no promtool test"
            assert rule["labels"]["severity"] in ("critical", "warning", "info")
            assert {"summary", "description"} <= set(rule["annotations"])
            assert "for" in rule


def test_every_alert_links_to_its_runbook_section():
    """The static alerts and the SLO alerts as rendered with the defaults."""
    import yaml
    render_slo_rules = load_script("prometheus/slo/render_slo_rules.py")
    runbook = (ROOT / "docs/runbook.md").read_text()
    headings = {line[3:].strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    alerts = yaml.safe_load((ROOT / "prometheus/rules/alerts.rules.yml").read_text())
    for group in [*alerts["groups"], *render_slo_rules.render({})["groups"]]:
        for rule in (r for r in group["rules"] if "alert" in r):
            link = rule["annotations"].get("runbook_url", "")
            assert link == f"docs/runbook.md#{rule['alert'].lower()}", rule["alert"]
            assert rule["alert"].lower() in headings, f"docs/runbook.md has no section for {rule['alert']}"
            section = runbook.split(f"## {rule['alert']}\n", 1)[1].split("\n## ", 1)[0]
            assert all(part in section for part in ("**Means**", "**Confirm**", "**Do**")), rule["alert"]
