"""Duplicate steps (same tool, same input) in one plan are merged and the run says which.

Issue 9 item 6: the demo model planned four identical ``read_document`` steps,
and each ran.
"""

from __future__ import annotations

from typing import Any

from agent.events import PlanEvent
from agent.plan import PlanStep
from agent.plan_merge import merge_duplicates
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research
from tests.conftest import planning, recording_tool, step, synthesis


def _step(sid: str, tool: str, deps: tuple[str, ...] = (), **args: Any) -> PlanStep:
    return PlanStep(id=sid, goal=f"goal of {sid}", tool=tool, input=args, depends_on=deps)


def test_identical_steps_merge_into_the_first_and_dependents_follow() -> None:
    steps = (
        _step("s1", "read_document", path="a.md"),
        _step("s2", "read_document", path="a.md"),
        _step("s3", "read_document", path="a.md"),
        _step("s4", "python", ("s3",), code="print('{{s3}}', '{{s2.title}}')"),
    )
    kept, merged = merge_duplicates(steps)
    assert merged == {"s2": "s1", "s3": "s1"}
    assert [s.id for s in kept] == ["s1", "s4"]
    assert kept[1].depends_on == ("s1",)
    assert kept[1].input == {"code": "print('{{s1}}', '{{s1.title}}')"}


def test_steps_equal_once_their_inputs_are_re_pointed_merge_too() -> None:
    steps = (
        _step("s1", "search", query="x"),
        _step("s2", "read", ("s1",), url="{{s1.url}}"),
        _step("s3", "search", query="x"),
        _step("s4", "read", ("s3",), url="{{s3.url}}"),
        _step("s5", "read", ("s2", "s4"), url="{{s2}} {{s4}}"),
    )
    kept, merged = merge_duplicates(steps)
    assert merged == {"s3": "s1", "s4": "s2"}
    assert [s.id for s in kept] == ["s1", "s2", "s5"]
    assert kept[2].depends_on == ("s2",) and kept[2].input == {"url": "{{s2}} {{s2}}"}


def test_a_new_step_equal_to_a_finished_one_reuses_it() -> None:
    steps = (
        _step("s1", "search", query="x"),
        _step("s5", "search", query="x"),
        _step("s6", "read", ("s5",), url="{{s5}}"),
    )
    kept, merged = merge_duplicates(steps, fixed=frozenset({"s1"}))
    assert merged == {"s5": "s1"}
    assert [s.id for s in kept] == ["s1", "s6"] and kept[1].depends_on == ("s1",)


def test_different_inputs_are_not_merged() -> None:
    steps = (_step("s1", "search", query="x"), _step("s2", "search", query="y"))
    assert merge_duplicates(steps) == (steps, {})


def test_a_run_calls_a_duplicated_tool_once_and_shows_the_merge() -> None:
    tool, log = recording_tool()
    plan = planning(
        step("s1", "a"),
        step("s2", "a"),
        step("s3", "a"),
        step("s4", "a"),
        step("s5", "b", ("s4",)),
    )
    model = ScriptedChatModel(
        chunks=8, latency_s=0.2, script={"Planning": [plan], "Synthesis": [synthesis("s1.1")]}
    )
    state, events = run_research(model, [tool])
    assert log.count("a") == 1, "a duplicate step ran"
    assert state["status"] == "done"
    final = state["plans"][-1]
    assert final.ids == ("s1", "s5") and final.step("s5").depends_on == ("s1",)
    assert final.diff.merged == {"s2": "s1", "s3": "s1", "s4": "s1"}
    assert "merged duplicate steps: s2 into s1, s3 into s1, s4 into s1" in final.reason
    shown = [e for e in events if isinstance(e, PlanEvent)]
    assert shown and shown[-1].diff.merged == final.diff.merged
