"""Tiers, and the rule that a skip in a tier CI requires is a failure.

Tiers are the folders: unit, gunicorn (real Gunicorn processes on loopback), config (static
checks, some inside built images) and integration (real containers). Integration tests also
name the stack they start with @pytest.mark.stack("app"), giving tiers like integration:app;
tests that need an image only a registry has (Grafana, Elastic) are in <tier>:registry.
CI sets REQUIRED_TIERS (comma-separated); a test in one of them that skips fails instead.
"""

import os

import pytest

TIERS = ("unit", "gunicorn", "config", "integration")
# Each test says which server it deploys (its env file, its process's env); a value in the shell
# that runs pytest (or exported by make) would switch every stack under the tests.
for _inherited in ("APP_SERVER", "APP_PROTOCOL"):
    os.environ.pop(_inherited, None)


def tier_of(item) -> str:
    parts = item.nodeid.split("/")
    tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else "unit"
    if item.get_closest_marker("registry_image"):
        return f"{tier}:registry"  # needs an image only a registry provides: never required here
    marker = item.get_closest_marker("stack")
    return f"{tier}:{marker.args[0]}" if tier == "integration" and marker else tier


def pytest_configure(config):
    config.addinivalue_line("markers", "stack(name): the compose stack an integration test starts")
    config.addinivalue_line("markers", "registry_image: needs an image that only a registry provides")


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = tier_of(item).split(":")[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    required = {t.strip() for t in os.environ.get("REQUIRED_TIERS", "").split(",") if t.strip()}
    if report.skipped and required:
        tier = tier_of(item)
        # A base tier ("config") requires its stacks, not its registry-only tests.
        if tier in required or (tier.split(":")[0] in required and not tier.endswith(":registry")):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            report.outcome = "failed"
            report.longrepr = f"skipped in required tier {tier} (REQUIRED_TIERS): {reason}"
