"""Model faults through real `ponder run` processes: the real SDK on a faked API, and scripts."""

from __future__ import annotations

import pytest

from tests.reliability import cli_faults as cf


@pytest.mark.parametrize("fault", cf.CLI_FAULTS, ids=lambda f: f.name)
def test_cli_fault_is_survived(fault: cf.CliFault, tmp_path) -> None:
    outcome = cf.run_cli_fault(fault, tmp_path)
    assert outcome.survived, (outcome.problems, outcome.stderr_tail)


def test_a_cut_off_reply_is_cut_where_a_partial_parse_still_succeeds() -> None:
    """The fault is only a fault if lenient partial-JSON parsing would accept it."""
    from langchain_core.utils.json import parse_partial_json

    cut = cf.cut_after_first_step(cf.PLAN)
    partial = parse_partial_json(cut)
    assert [s["id"] for s in partial["steps"]] == ["s1"]
