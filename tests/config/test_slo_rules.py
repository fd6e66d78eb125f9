"""The SLO rules as prometheus/slo/render_slo_rules.py writes them from .env: promtool's unit
tests (each burn-rate alert fires at its rate and stays quiet below it), and bad settings named."""

import shutil
import subprocess
import sys

import pytest
from support.docker import ROOT, load_script, tool_in_image

SLO = ROOT / "prometheus/slo"


def render(directory, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SLO / "render_slo_rules.py"), str(directory / "slo.rules.yml")],
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=30)


def promtool_test(directory) -> subprocess.CompletedProcess:
    shutil.copy(SLO / "slo.rules.test.yml", directory)
    for path in directory.iterdir():
        path.chmod(0o644)  # promtool runs as nobody in the image
    return tool_in_image("PROMETHEUS_IMAGE", "promtool", "test", "rules", "/slo/slo.rules.test.yml",
                         mounts={str(directory): "/slo"})


def test_burn_rate_alerts_fire_at_their_rate_and_stay_quiet_below(tmp_path):
    assert render(tmp_path).returncode == 0
    out = promtool_test(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_tests_follow_the_targets(tmp_path):
    """Negative control: with a looser availability target the 0.5% case no longer burns."""
    assert render(tmp_path, SLO_AVAILABILITY_TARGET="99").returncode == 0
    out = promtool_test(tmp_path)
    assert out.returncode != 0 and "FlaskAvailabilityBudgetBurnSlow" in out.stdout + out.stderr


def test_the_threshold_is_a_bucket_of_the_apps_histogram():
    from flaskobs.metrics import REQUEST_BUCKETS
    assert load_script("prometheus/slo/render_slo_rules.py").BUCKETS == REQUEST_BUCKETS


@pytest.mark.parametrize(("env", "message"), [
    ({"SLO_AVAILABILITY_TARGET": "100"}, "SLO_AVAILABILITY_TARGET='100' is out of range; allowed: a percentage"),
    ({"SLO_AVAILABILITY_TARGET": "high"}, "SLO_AVAILABILITY_TARGET='high' is not a number"),
    ({"SLO_LATENCY_TARGET": "50"}, "SLO_LATENCY_TARGET='50' is out of range"),
    ({"SLO_LATENCY_THRESHOLD": "300ms"}, "SLO_LATENCY_THRESHOLD='300ms' is not a bucket bound of the request "
                                         "histogram; allowed (seconds): 0.005, 0.01"),
])
def test_a_bad_setting_is_named(tmp_path, env, message):
    out = render(tmp_path, **env)
    assert out.returncode == 2 and message in out.stderr, out.stderr
