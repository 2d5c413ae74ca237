"""Every budget stops a run that would go on forever, with a partial cited answer."""

from __future__ import annotations

import itertools
from typing import Any

from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research, settings
from tests.conftest import planning, recording_tool, step, synthesis


def _endless_replanner(query: str = "more") -> Any:
    """A replanner that always proposes a fresh step (so only budgets can stop it)."""
    ids = itertools.count(10)

    def reply(messages: list[Any]) -> dict[str, Any]:
        n = next(ids)
        q = query if query == "broken" else f"{query}{n}"
        return {"reasoning": "try again", "keep": [], "steps": [step(f"s{n}", q)]}

    return reply


def _looping_model(**extra: Any) -> ScriptedChatModel:
    return ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "broken"), depth="high")],
            "Judgement": [{"verdicts": [], "decision": "replan", "reason": "still missing"}],
            "Replanning": [_endless_replanner()],
            "Synthesis": [synthesis("s1.1")],
            **extra,
        },
    )


def _assert_partial_cited(state: dict[str, Any]) -> None:
    answer = state["answer"]
    assert state["status"] == "budget_exhausted"
    assert answer.citations, "the partial answer cites nothing"
    assert answer.citations[0].source == "lookup:s1"


def test_step_budget() -> None:
    """The plan fits the budget, but a retry would be a third tool execution."""
    tool, _log = recording_tool(delays={"slow": 5.0})
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "slow"))],
            "Synthesis": [synthesis("s1.1")],
        }
    )
    state, _ = run_research(model, [tool], config=settings(max_steps=2, step_timeout_s=0.2))
    assert state["reflections"][0].decision == "retry"
    assert [r.attempt for r in state["steps"].values()] == [1, 1]
    assert "steps budget" in state["stop_reason"]
    _assert_partial_cited(state)


def test_replan_budget() -> None:
    tool, _log = recording_tool(fail={"broken"})
    model = _looping_model()
    state, _ = run_research(model, [tool], config=settings(max_replans=2, max_model_calls=100))
    assert len(model.calls_for("Replanning")) == 2
    assert "replans budget" in state["stop_reason"]
    _assert_partial_cited(state)


def test_model_call_budget_overshoots_by_no_call() -> None:
    tool, _ = recording_tool(fail={"broken"})
    model = _looping_model()
    state, _ = run_research(model, [tool], config=settings(max_model_calls=4, max_replans=50))
    assert len(model.calls) == 4
    assert "model_calls" in state["stop_reason"]
    _assert_partial_cited(state)


def test_token_budget() -> None:
    tool, _ = recording_tool(fail={"broken"})
    model = _looping_model()
    state, _ = run_research(
        model, [tool], config=settings(max_tokens=2500, max_replans=50, max_model_calls=100)
    )
    assert "tokens" in state["stop_reason"]
    used = state["usage"].tokens
    last_call = max(c.input_tokens + c.output_tokens for c in state["usage"].by_node.values())
    assert used < 2500 + last_call, "more than one call past the token budget"
    _assert_partial_cited(state)


def test_wall_time_budget() -> None:
    tool, _log = recording_tool(delays={"slow": 30.0})
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "slow"))],
            "Synthesis": [synthesis("s1.1")],
        }
    )
    state, _ = run_research(model, [tool], config=settings(timeout_s=1.0, step_timeout_s=60))
    assert "wall_time" in state["stop_reason"]
    assert state["usage"].wall_s < 5
    _assert_partial_cited(state)


def test_stalled_loop_stops_on_its_own() -> None:
    """Generous budgets: the stall rules, not a budget, end the loop."""
    tool, log = recording_tool(fail={"broken"})
    model = ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "broken"), depth="high")],
            "Judgement": [
                {"verdicts": [], "decision": "retry", "retry": ["s2"], "reason": "again"},
                {"verdicts": [], "decision": "replan", "reason": "still missing"},
            ],
            "Replanning": [_endless_replanner("broken")],
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
