"""The rule in tests/conftest.py: a skip in a required tier fails, except registry-only tests."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
CONFTEST = (Path(__file__).parents[1] / "conftest.py").read_text()
TESTS = """
import pytest

def test_plain_skip():
    pytest.skip("image missing")

@pytest.mark.registry_image
def test_registry_skip():
    pytest.skip("registry image missing")

def test_passes():
    pass
"""


@pytest.fixture
def run(pytester, monkeypatch):
    pytester.makepyfile(**{"tests/conftest": CONFTEST, "tests/config/test_sample": TESTS,
                           "tests/integration/test_stack": "import pytest\npytestmark = pytest.mark.stack('app')\n"
                                                           + TESTS})

    def go(required: str):
        monkeypatch.setenv("REQUIRED_TIERS", required)
        return pytester.runpytest("tests", "-p", "no:cacheprovider")
    return go


def test_skip_in_a_required_tier_fails_but_registry_tests_may_skip(run):
    run("config,integration:app").assert_outcomes(passed=2, failed=2, skipped=2)


def test_registry_tier_is_required_only_when_named(run):
    run("config:registry").assert_outcomes(passed=2, failed=1, skipped=3)


def test_unrequired_tiers_skip_freely(run):
    run("").assert_outcomes(passed=2, skipped=4)
