"""Best-of-N plans (``plan_samples``): sampled first plans, a critic picks, nothing runs before."""

from __future__ import annotations

import io
from typing import Any

from langchain_core.messages import BaseMessage
from rich.console import Console

from agent.cli.live import LiveView
from agent.events import PlanEvent
from agent.settings import Settings
from agent.testing import FunctionChatModel, plan_step, planning_reply
from tests.agent.graph_run import run_research
from tests.conftest import recording_tool

HINT = "Approach for this attempt"
# Each sampled plan looks up its own query: the hint a sample sees names it.
QUERIES = {"authoritative": "beta", "exact figure": "gamma"}


def _prompt(messages: list[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


def _query_for(prompt: str) -> str:
    return next((q for hint, q in QUERIES.items() if hint in prompt), "alpha")


def _model(critic: Any) -> FunctionChatModel:
    """Plans per hint; the critic's reply is ``critic``; the answer says what the tool said."""

    def reply(messages: list[BaseMessage], role: str) -> Any:
        prompt = _prompt(messages)
        if role == "Planning":
            # Two steps, so a streamed plan could start its first one early (the last
            # step of a partial reply never starts): a sampled plan must not.
            query = _query_for(prompt)
            return planning_reply(
                plan_step("s1", "lookup", {"query": query}),
                plan_step("s2", "lookup", {"query": f"{query} origin"}),
            )
        if role == "PlanPick":
            return critic
        query = next(q for q in ("alpha", "beta", "gamma") if f"value of {q}" in prompt)
        # The recording tool says "the value of Q is len(Q)".
        return {"claims": [{"text": f"The value of {query} is {len(query)}.", "cites": ["s1.1"]}]}

    return FunctionChatModel(fn=reply, latency_s=0.02)


def _plan_events(events: list[Any]) -> list[PlanEvent]:
    return [e for e in events if isinstance(e, PlanEvent)]


def test_the_critics_pick_is_the_plan_that_runs_and_no_loser_runs_a_step() -> None:
    model = _model({"chosen": 2, "reasons": "plan 2 starts from the authoritative source"})
    tool, log = recording_tool()
    state, events = run_research(model, [tool], config=Settings(effort="low", plan_samples=3))
    assert state["status"] == "done", state.get("stop_reason")
    plans = [_prompt(c.messages) for c in model.calls_for("Planning")]
    assert len(plans) == 3 and sum(HINT in p for p in plans) == 2
    critic = model.calls_for("PlanPick")
    assert len(critic) == 1
    shown = _prompt(list(critic[0].messages))
    assert all(f'"query": "{q}"' in shown for q in ("alpha", "beta", "gamma"))
    # Plan 2 is the sample with the first hint: it looks up "beta", and only that runs.
    assert sorted(q for q, _, _ in log.calls) == ["beta", "beta origin"]
    assert all(start > critic[0].started for _, start, _ in log.calls), "a tool ran before the pick"
    plan = state["plans"][0]
    assert plan.choice is not None and plan.choice.by == "critic" and plan.choice.chosen == 2
    assert plan.choice.reasons == "plan 2 starts from the authoritative source"
    assert plan.steps[0].input == {"query": "beta"} and "plan 2 of 3" in plan.reason
    assert len(plan.choice.candidates) == 3
    (announced,) = _plan_events(events)
    assert announced.choice == plan.choice
    view = LiveView(Console(file=io.StringIO(), width=100))
    view._apply(announced)
    assert "plan 2 of 3 (critic): plan 2 starts from the authoritative source" in view.log
    assert state["answer"].markdown.startswith("The value of beta is 4.")
    assert state["usage"].model_calls == 5  # three plans, the critic, the answer


def test_a_garbled_critic_falls_back_to_the_first_valid_plan_with_a_note() -> None:
    model = _model("I would go with the second one, probably.")
    tool, log = recording_tool()
    settings = Settings(effort="low", plan_samples=2, plan_retries=1)
    state, _ = run_research(model, [tool], config=settings)
    assert state["status"] == "done", state.get("stop_reason")
    assert len(model.calls_for("PlanPick")) == 2  # asked, re-asked once, then given up
    choice = state["plans"][0].choice
    assert choice is not None and choice.by == "fallback" and choice.chosen == 1
    assert "unusable" in choice.reasons and "first valid plan" in choice.reasons
    assert sorted(q for q, _, _ in log.calls) == ["alpha", "alpha origin"]


def test_a_pick_of_an_invalid_plan_is_re_asked_and_an_invalid_sample_is_out() -> None:
    picks = iter([{"chosen": 3, "reasons": "three"}, {"chosen": 1, "reasons": "one is valid"}])

    def reply(messages: list[BaseMessage], role: str) -> Any:
        prompt = _prompt(messages)
        if role == "Planning":
            if "exact figure" in prompt:  # sample 3 always names a tool that does not exist
                return planning_reply(plan_step("s1", "nope", {"query": "gamma"}))
            return planning_reply(plan_step("s1", "lookup", {"query": _query_for(prompt)}))
        if role == "PlanPick":
            return next(picks)
        return {"claims": [{"text": "The value of alpha is 5.", "cites": ["s1.1"]}]}

    model = FunctionChatModel(fn=reply)
    tool, log = recording_tool()
    settings = Settings(effort="low", plan_samples=3, plan_retries=1)
    state, _ = run_research(model, [tool], config=settings)
    assert state["status"] == "done", state.get("stop_reason")
    critic = model.calls_for("PlanPick")
    assert len(critic) == 2 and "Plan 3 (invalid:" in _prompt(list(critic[0].messages))
    assert "valid plan" in _prompt(list(critic[1].messages))  # the re-ask says what was wrong
    choice = state["plans"][0].choice
    assert choice is not None and choice.by == "critic" and choice.chosen == 1
    assert choice.candidates[2]["error"] and [q for q, _, _ in log.calls] == ["alpha"]


def test_one_plan_sample_is_todays_planner() -> None:
    model = _model({"chosen": 1, "reasons": "unused"})
    tool, log = recording_tool()
    state, events = run_research(model, [tool], config=Settings(effort="low"))
    assert state["status"] == "done"
    assert model.calls_for("PlanPick") == []
    (planning,) = model.calls_for("Planning")
    assert HINT not in _prompt(list(planning.messages))
    assert state["plans"][0].choice is None and _plan_events(events)[0].choice is None
    assert sorted(q for q, _, _ in log.calls) == ["alpha", "alpha origin"]
