"""A planted API key never reaches a prompt, event, trace, checkpoint, report or error line."""

from __future__ import annotations

import pytest

from tests.reliability import secret_leaks as sl
from tests.reliability.sandbox_attacks import SUITE_OPTIONS
from tools._sandbox import probe_sandbox

_PROBE = probe_sandbox(SUITE_OPTIONS.bwrap, SUITE_OPTIONS.python)


@pytest.mark.sandbox
@pytest.mark.skipif(not _PROBE.ok, reason=f"no sandbox: {_PROBE.reason}")
@pytest.mark.parametrize("case", sl.CASES)
def test_planted_key_never_leaks(case: sl.Case, tmp_path) -> None:
    outcome = sl.run_leak_case(case, tmp_path)
    assert outcome.clean, outcome.problems


@pytest.mark.sandbox
@pytest.mark.skipif(not _PROBE.ok, reason=f"no sandbox: {_PROBE.reason}")
def test_the_leak_check_finds_a_key_typed_into_the_task(tmp_path) -> None:
    """The control: a key the user typed into the task is found in every channel it reaches."""
    outcome = sl.run_leak_case("script", tmp_path, key_in_task=True)
    leaked = " ".join(outcome.problems)
    for place in ("stdout", "the trace", "the Markdown report", "the run store"):
        assert f"OPENAI_API_KEY leaked into {place}" in leaked, outcome.problems


def test_the_leak_check_sees_a_key_where_it_is() -> None:
    """The check can fail: an unmasked key in an error message is caught."""
    from agent.models.failures import classify_model_error

    key = "sk-test-PLANTEDabcdef0123456789"
    raw = RuntimeError(f"Incorrect API key provided: {key}")
    assert key in str(raw)
    assert key not in classify_model_error(raw).message
