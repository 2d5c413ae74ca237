"""A follow-up to a finished run reuses its evidence: nothing fetched twice, both cited."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.errors import ConfigError
from agent.follow_up import follow_up_input
from agent.settings import Budgets, Settings
from agent.testing import ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis


def test_the_follow_up_cites_old_and_new_sources_without_refetching() -> None:
    tool, log = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "alpha")), planning(step("s1", "beta"))],
            "Synthesis": [synthesis("s1.1"), synthesis("s101.1", "s1.1")],
        }
    )
    graph = build_research_graph(model, [tool], checkpointer=InMemorySaver())
    first: Any = {"configurable": {"thread_id": "t-first"}}
    graph.invoke({"task": "What is alpha?"}, first)
    earlier = graph.get_state(first).values
    assert earlier["status"] == "done" and log.count("alpha") == 1

    second: Any = {"configurable": {"thread_id": "t-follow-up"}}
    graph.invoke(follow_up_input("And how does beta relate to it?", earlier), second)
    state = graph.get_state(second).values

    assert log.count("alpha") == 1, "the follow-up fetched the earlier evidence again"
    assert log.count("beta") == 1
    prompt = model.calls_for("Planning")[1].prompt
    assert "And how does beta relate to it?" in prompt
    assert "s101" in prompt and "alpha" in prompt, "the planner was not told what is gathered"
    assert state["status"] == "done"
    cited = {c.passage_id.split(".")[0] for c in state["answer"].citations}
    assert cited == {"s101", "s1"}, state["answer"]
    assert not state["answer"].rejected
    old = earlier["steps"]["s1"].observation
    assert state["steps"]["s101"].observation == old


def test_a_follow_up_needs_a_question_and_earlier_evidence() -> None:
    with pytest.raises(ConfigError, match="empty"):
        follow_up_input("  ", {"task": "t", "steps": {}})
    with pytest.raises(ConfigError, match="no evidence"):
        follow_up_input("why?", {"task": "t", "steps": {}})


def test_earlier_evidence_does_not_spend_the_follow_ups_step_budget() -> None:
    tool, log = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "alpha")), planning(step("s1", "beta"))],
            "Synthesis": [synthesis("s1.1"), synthesis("s101.1", "s1.1")],
        }
    )
    one_step = Settings(effort="low", budgets=Budgets(max_steps=1))
    graph = build_research_graph(model, [tool], checkpointer=InMemorySaver(), settings=one_step)
    first: Any = {"configurable": {"thread_id": "t-budget-first"}}
    graph.invoke({"task": "What is alpha?"}, first)
    second: Any = {"configurable": {"thread_id": "t-budget-follow-up"}}
    graph.invoke(follow_up_input("And beta?", graph.get_state(first).values), second)
    state = graph.get_state(second).values
    assert state["status"] == "done", state.get("stop_reason")
    assert log.count("beta") == 1
