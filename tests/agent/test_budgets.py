"""Every budget stops a run that would go on forever, with a partial cited answer.

The cases live in `tests.reliability.budget_suite`, which the reliability report runs too.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.state import NodeUsage, Usage
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research, settings
from tests.conftest import planning, recording_tool, step, synthesis
from tests.reliability import budget_suite as bs


@pytest.mark.parametrize("case", bs.BUDGET_CASES, ids=lambda c: c.name)
def test_budget_stops_an_endless_run(case: bs.BudgetCase) -> None:
    outcome = bs.run_budget_case(case)
    assert outcome.respected, outcome.problems


def test_a_run_its_budget_did_not_stop_is_not_counted() -> None:
    """With the step budget loosened, the depth's cap on replans ends the run as done."""
    case = bs.BUDGET_CASES[0]
    outcome = bs.run_budget_case(replace(case, limits={**case.limits, "max_steps": 48}))
    assert not outcome.respected
    assert any("not 'budget_exhausted'" in p for p in outcome.problems), outcome.problems


def test_more_than_one_call_past_the_token_budget_is_an_overshoot() -> None:
    usage = Usage(by_node={"planner": NodeUsage(model_calls=3, input_tokens=3000)})
    tool_log = recording_tool()[1]
    run = bs.BudgetRun({"usage": usage}, bs.looping_model(), tool_log, bs.CallTokens(),
                       {"max_tokens": 1500}, 0.0)  # fmt: skip
    run.tokens.calls = [1000, 1000, 1000]
    assert bs._tokens(run) == ["2000 tokens before the last call, budget 1500"]
    run.tokens.calls = [1000, 400, 1600]  # the last call started under the budget
    assert bs._tokens(run) == []


def test_stalled_loop_stops_on_its_own() -> None:
    """Generous budgets: the stall rules, not a budget, end the loop."""
    tool, log = recording_tool(fail={"broken"})
    model = ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "broken"), depth="high")],
            "Reflection": [
                {"verdicts": [], "decision": "retry", "retry": ["s2"], "reason": "again"},
                {"verdicts": [], "decision": "replan", "reason": "still missing"},
            ],
            "Replanning": [bs.endless_replanner("broken")],
            "Synthesis": [synthesis("s1.1")],
        },
    )
    state, _events = run_research(
        model, [tool], config=settings(max_replans=50, max_model_calls=200)
    )
    assert state["status"] == "done"
    assert state["reflections"][-1].stalled
    assert log.count("broken") <= 4
    assert len(model.calls) < 15
