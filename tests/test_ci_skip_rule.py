"""Under CI, a skipped real-component test fails the run; other skips stay skips."""

from __future__ import annotations

import pytest

from tests.conftest import REAL_COMPONENT_MARKERS

# The rule under test, loaded into the inner run exactly as the suite loads it.
_CONFTEST = "from tests.conftest import pytest_runtest_makereport  # noqa: F401\n"
_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

_TESTS = """
import pytest

@pytest.mark.{marker}
def test_marked_skip_at_run_time():
    pytest.skip("no {marker} here")

@pytest.mark.{marker}
@pytest.mark.skipif(True, reason="{marker} is missing")
def test_marked_skipif():
    pass

def test_unmarked_skip():
    pytest.skip("optional extra")

@pytest.mark.{marker}
def test_marked_that_runs():
    pass
"""


@pytest.mark.parametrize("marker", REAL_COMPONENT_MARKERS)
def test_ci_turns_a_skipped_real_component_test_into_a_failure(
    marker: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makeini(_INI)
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(_TESTS.format(marker=marker))
    result = pytester.runpytest("-rs")
    # A run-time skip fails its call; a skipif fails at setup, which pytest counts as an error.
    result.assert_outcomes(failed=1, errors=1, skipped=1, passed=1)
    result.stdout.fnmatch_lines([f"*CI is set, so this {marker} test must run*no {marker} here*"])
    result.stdout.fnmatch_lines([f"*{marker} is missing*"])
    assert result.ret != 0


def test_without_ci_every_skip_stays_a_skip(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini(_INI)
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(_TESTS.format(marker="browser"))
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=3, passed=1)
    assert result.ret == 0


def test_every_real_component_marker_is_declared(pytestconfig: pytest.Config) -> None:
    declared = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(REAL_COMPONENT_MARKERS) <= declared
