"""Steps started while the plan streams in pass the same gates as every other start.

Issue 9 item 2: the early starter used to skip the step budget, and the steps
it started for a reply that validation then refused kept running (and their
side effects happened) while the model was asked again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from langchain_core.tools import BaseTool, StructuredTool

from agent.dispatch import running_steps
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research, settings
from tests.conftest import planning, step, synthesis


@dataclass
class StartLog:
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)


def _slow_tool(delay_s: float) -> tuple[BaseTool, StartLog]:
    """A lookup that records when a call starts and when it completes."""
    log = StartLog()

    async def run(query: str) -> str:
        log.started.append(query)
        await asyncio.sleep(delay_s)
        log.finished.append(query)
        return f"Fact about {query}: the value of {query} is {len(query)}."

    tool = StructuredTool.from_function(
        coroutine=run, name="lookup", description="lookup: look up one fact by query"
    )
    return tool, log


def test_early_starts_stop_at_the_step_budget() -> None:
    tool, log = _slow_tool(0.7)
    too_long = planning(*(step(f"s{i}", f"x{i}") for i in range(1, 7)))
    model = ScriptedChatModel(
        chunks=14,
        role_latency_s={"Planning": 0.8},
        script={
            "Planning": [too_long, planning(step("s1", "c"), step("s2", "d"))],
            "Synthesis": [synthesis("s1.1")],
        },
    )
    state, _ = run_research(model, [tool], config=settings(max_steps=2, effort="medium"))
    early = [q for q in log.started if q.startswith("x")]
    assert len(early) <= 2, f"the early starter started {early} with a budget of 2 steps"
    assert not [q for q in log.finished if q.startswith("x")], "a refused plan's step ran on"
    assert state["usage"].tool_calls == 2
    assert sorted(r.input["query"] for r in state["steps"].values()) == ["c", "d"]
    assert running_steps(state["run_id"]) == []


def test_a_refused_plan_leaves_no_step_running() -> None:
    tool, log = _slow_tool(0.7)
    dangling = planning(step("s1", "x1"), step("s2", "x2"), step("s3", "x3", ("s9",)))
    model = ScriptedChatModel(
        chunks=12,
        role_latency_s={"Planning": 0.8},
        script={
            "Planning": [dangling, planning(step("s1", "c"))],
            "Synthesis": [synthesis("s1.1")],
        },
    )
    state, _ = run_research(model, [tool])
    assert state["status"] == "done"
    assert log.started[:2] == ["x1", "x2"], "the test needs the early starter to start them"
    assert log.finished == ["c"], "a refused plan's steps ran on while the model was re-asked"
    assert state["usage"].tool_calls == 1
    assert list(state["steps"]) == ["s1"] and state["steps"]["s1"].input == {"query": "c"}


def test_a_compact_plan_starts_its_first_step_before_the_plan_is_finished() -> None:
    """Compact plans stream as lines: a step starts when its line closes."""
    tool, log = _slow_tool(0.3)
    model = ScriptedChatModel(
        chunks=16,
        role_latency_s={"Planning": 0.8},
        script={
            "Planning": [planning(step("s1", "a"), step("s2", "b"), step("s3", "c", ("s1",)))],
            "Synthesis": [synthesis("s1.1")],
        },
    )
    state, events = run_research(
        model, [tool], config=settings(plan_format="compact", effort="medium")
    )
    call = model.calls_for("Planning")[0]
    assert "plan" in call.schema["properties"] and "steps" not in call.schema["properties"]
    types = [(e.type, getattr(e, "step_id", "")) for e in events]
    plan_at = types.index(("plan", ""))
    assert ("step_started", "s1") in types[:plan_at], types
    assert ("step_started", "s3") in types[plan_at:], "s3 waits for s1, which was still running"
    assert state["status"] == "done"
    assert [(s.id, s.depends_on) for s in state["plans"][-1].steps] == [
        ("s1", ()),
        ("s2", ()),
        ("s3", ("s1",)),
    ]
    assert sorted(log.started) == ["a", "b", "c"] and running_steps(state["run_id"]) == []
