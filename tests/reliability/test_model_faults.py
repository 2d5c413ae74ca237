"""Model faults through the real graph: each recovered or ended with one clear line, in time."""

from __future__ import annotations

import pytest

from tests.reliability import model_faults as mf


@pytest.mark.parametrize("fault", mf.FAULTS, ids=lambda f: f.name)
async def test_model_fault_is_survived(fault: mf.ModelFault) -> None:
    outcome = await mf.run_fault(fault)
    assert outcome.survived, outcome.problems
