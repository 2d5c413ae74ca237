"""20 seeded kill -9 trials of `ponder run`; each resumes with zero redone steps and zero losses."""

from __future__ import annotations

import pytest

from tests.reliability import kill_trials as kt
from tests.reliability.sandbox_attacks import SUITE_OPTIONS, leftover_sandbox_processes
from tools._sandbox import probe_sandbox

_PROBE = probe_sandbox(SUITE_OPTIONS.bwrap, SUITE_OPTIONS.python)
needs_bwrap = pytest.mark.skipif(
    not _PROBE.ok, reason=f"the python steps need the sandbox: {_PROBE.reason}"
)


def test_strikes_are_seeded_and_cover_every_phase() -> None:
    assert kt.plan_strikes(20, 7) == kt.plan_strikes(20, 7)
    assert kt.plan_strikes(20, 7) != kt.plan_strikes(20, 8)
    assert {s.aim for s in kt.plan_strikes(20, 7)} == {
        "planning_early",
        "planning_streaming",
        "mid_wave",
        "synthesis",
    }


@pytest.mark.slow
@pytest.mark.sandbox
@needs_bwrap
@pytest.mark.timeout(600)
def test_twenty_kills_resume_without_redoing_or_losing_anything() -> None:
    result = kt.run_kill_trials(trials=20)
    assert result["failures"] == {}
    assert result["kills"] == 20 and result["resumed_clean"] == 20
    assert result["steps_redone"] == 0 and result["results_lost"] == 0
    assert result["stores_intact"] == 20
    # The strikes really landed in every phase, and some after steps were checkpointed.
    assert all(result["phases"].get(p, 0) >= 2 for p in ("planning", "mid_wave", "synthesis")), (
        result["phases"]
    )
    assert result["steps_checkpointed"] >= 20
    assert leftover_sandbox_processes() == [], "a killed run left sandboxed code running"
