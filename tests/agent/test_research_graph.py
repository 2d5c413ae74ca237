"""The research loop pinned down exactly with scripted models and recording tools."""

from __future__ import annotations

import pytest

from agent.errors import PlanningError
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research, settings, types_of
from tests.conftest import planning, recording_tool, step, synthesis


def test_independent_steps_overlap_and_dependent_waits() -> None:
    tool, log = recording_tool(delays={"a": 0.4, "b": 0.4, "c": 0.0})
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "a"), step("s2", "b"), step("s3", "c", ("s1", "s2")))],
            "Synthesis": [synthesis("s1.1", "s3.1")],
        }
    )
    state, _events = run_research(model, [tool])
    (a0, a1), (b0, b1), (c0, _) = log.span("a"), log.span("b"), log.span("c")
    assert a0 < b1 and b0 < a1, "s1 and s2 did not run at the same time"
    assert c0 >= max(a1, b1), "s3 started before its dependencies finished"
    assert state["status"] == "done"
    assert len(model.calls) == 2  # plan (with triage folded in) + synthesis


def test_slow_step_does_not_hold_back_a_fast_steps_dependent() -> None:
    tool, log = recording_tool(delays={"slow": 1.0, "fast": 0.05, "next": 0.0})
    model = ScriptedChatModel(
        script={
            "Planning": [
                planning(step("s1", "slow"), step("s2", "fast"), step("s3", "next", ("s2",)))
            ],
            "Synthesis": [synthesis("s1.1", "s3.1")],
        }
    )
    state, _ = run_research(model, [tool])
    assert log.span("next")[1] < log.span("slow")[1], "s3 waited for the unrelated slow s1"
    assert set(state["steps"]) == {"s1", "s2", "s3"}


def test_dependency_output_is_substituted_into_the_input() -> None:
    tool, log = recording_tool(answer=lambda q: f"result<{q}>")
    model = ScriptedChatModel(
        script={
            "Planning": [
                planning(
                    step("s1", "x"),
                    {**step("s2", "ignored", ("s1",)), "input": {"query": "got {{s1}}"}},
                )
            ],
            "Synthesis": [synthesis("s2.1")],
        }
    )
    state, _ = run_research(model, [tool])
    assert state["steps"]["s2"].input == {"query": "got result<x>"}
    assert log.count("got result<x>") == 1


def test_extraction_placeholder_asks_the_model_for_one_value() -> None:
    tool, _ = recording_tool(answer=lambda q: f"Python 3.11 was released in 2022 ({q}).")
    model = ScriptedChatModel(
        script={
            "Planning": [
                planning(
                    step("s1", "release"),
                    {**step("s2", "x", ("s1",)), "input": {"query": "events of {{s1 | the year}}"}},
                )
            ],
            "Extraction": [{"value": "2022"}],
            "Synthesis": [synthesis("s2.1")],
        }
    )
    state, _ = run_research(model, [tool])
    assert state["steps"]["s2"].input == {"query": "events of 2022"}
    assert "2022" in model.calls_for("Extraction")[0].prompt
    assert state["usage"].by_node["executor"].model_calls == 1


def test_streaming_planner_starts_steps_before_the_plan_is_complete() -> None:
    tool, log = recording_tool()
    model = ScriptedChatModel(
        latency_s=0.6,
        chunks=12,
        script={
            "Planning": [planning(step("s1", "early"), step("s2", "later"), step("s3", "last"))],
            "Synthesis": [synthesis("s1.1")],
        },
    )
    _state, events = run_research(model, [tool])
    plan_call = model.calls_for("Planning")[0]
    assert log.span("early")[0] < plan_call.started + 0.6, "s1 waited for the whole plan"
    kinds = types_of(events)
    assert kinds.index("step_started") < kinds.index("plan")
    assert log.count() == 3, "a step started early was run a second time"


@pytest.mark.parametrize("plan_format", ["json", "compact"])
def test_failed_step_replans_keeping_finished_work(plan_format: str) -> None:
    tool, log = recording_tool(fail={"broken"})
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "broken"))],
            "Reflection": [
                {
                    "verdicts": [{"step_id": "s2", "verdict": "failed", "reason": "error"}],
                    "decision": "replan",
                    "reason": "try another query",
                }
            ],
            "Replanning": [
                {
                    "reasoning": "use a different query",
                    "keep": [],
                    "steps": [step("s3", "alternative", ("s1",))],
                }
            ],
            "Synthesis": [synthesis("s1.1", "s3.1")],
        }
    )
    state, events = run_research(model, [tool], config=settings(plan_format=plan_format))
    assert ("plan" in model.calls_for("Replanning")[0].schema["properties"]) is (
        plan_format == "compact"
    )
    assert [p.version for p in state["plans"]] == [1, 2]
    v2 = state["plans"][1]
    assert v2.ids == ("s1", "s3") and v2.diff.kept == ("s1",) and v2.diff.removed == ("s2",)
    assert log.count("good") == 1, "the finished step ran again after the replan"
    assert state["steps"]["s1"].plan_version == 1
    assert "replan" in types_of(events)
    replan_prompt = model.calls_for("Replanning")[0].prompt
    assert "Fact about good" in replan_prompt, "the replanner did not see the kept observation"
    assert state["status"] == "done"


def test_transient_failure_is_retried_by_rule_without_a_model_call() -> None:
    tool, _log = recording_tool(delays={"flaky": 5.0})
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "flaky"))],
            "Reflection": [{"verdicts": [], "decision": "finish", "reason": "give up"}],
        }
    )
    state, _events = run_research(model, [tool], config=settings(step_timeout_s=0.2))
    reflections = state["reflections"]
    assert reflections[0].by == "rules" and reflections[0].decision == "retry"
    assert state["steps"]["s1"].attempt == 2
    assert len(model.calls_for("Reflection")) == 1  # only after the second failure


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (planning(step("s1", "a", ("s2",)), step("s2", "b", ("s1",))), "cycle"),
        (planning(step("s1", "a", tool="teleport")), "unknown tool"),
        (planning(step("s1", "a", ("s9",))), "not a step of the plan"),
        (planning(step("s1", "a"), step("s1", "b")), "used twice"),
        ("this is not JSON at all", "no JSON object"),
    ],
)
@pytest.mark.parametrize("plan_format", ["json", "compact"])
def test_invalid_plan_is_repaired_by_re_asking(bad: object, needle: str, plan_format: str) -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [bad, planning(step("s1", "a"))],
            "Synthesis": [synthesis("s1.1")],
        }
    )
    state, _ = run_research(model, [tool], config=settings(plan_format=plan_format))
    assert state["status"] == "done"
    repair = model.calls_for("Planning")[1].prompt
    assert needle in repair, f"the re-ask did not show the exact error: {repair[-300:]}"


def test_invalid_plan_fails_cleanly_after_the_allowed_retries() -> None:
    tool, log = recording_tool()
    cycle = planning(step("s1", "a", ("s1",)))
    model = ScriptedChatModel(script={"Planning": [cycle, cycle, cycle]})
    with pytest.raises(PlanningError, match="still invalid after 3 tries"):
        run_research(model, [tool], config=settings(plan_retries=2))
    assert len(model.calls_for("Planning")) == 3
    assert log.count() == 0


def test_citation_whose_quote_is_not_in_the_source_is_rejected() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "a"))],
            "Synthesis": [
                {
                    "claims": [
                        {"text": "A is 1.", "cites": ["s1.1"], "quote": "the value of a is 1"},
                        {"text": "Invented.", "cites": ["s1.1"], "quote": "the value of a is 999"},
                        {"text": "Made-up source.", "cites": ["s7.1"]},
                    ],
                    "gaps": [],
                }
            ],
        }
    )
    state, events = run_research(model, [tool])
    answer = state["answer"]
    assert [c.quote for c in answer.citations] == ["the value of a is 1"]
    assert "Invented. *(unsupported)*" in answer.markdown
    assert any("quote not found" in r for r in answer.rejected)
    assert any("no such evidence" in r for r in answer.rejected)
    check = next(e for e in events if e.type == "citation_check")
    assert (check.checked, check.kept, check.quoted, check.supported) == (3, 1, 1, 1)


def test_trivial_task_is_answered_directly_with_one_model_call() -> None:
    tool, log = recording_tool()
    model = ScriptedChatModel(script={"text": ["4"]})
    state, events = run_research(model, [tool], task="what is 2+2")
    assert len(model.calls) == 1
    assert state["answer"].markdown == "4"
    assert state["triage"].mode == "direct" and state["triage"].decided_by == "rules"
    assert types_of(events) == ["triage", "answer"]
    assert log.count() == 0 and not state.get("plans")


def test_model_triage_can_answer_directly_when_effort_is_auto() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [
                {
                    "mode": "direct",
                    "depth": "low",
                    "triage_reason": "common knowledge",
                    "answer": "Paris.",
                    "reasoning": "known",
                    "steps": [],
                }
            ]
        }
    )
    state, _events = run_research(model, [tool], task="Which city is the capital of France?")
    assert len(model.calls) == 1 and state["answer"].markdown == "Paris."
    assert state["triage"].decided_by == "model"


def test_explicit_effort_does_not_offer_a_direct_answer() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s1.1")]}
    )
    state, _ = run_research(
        model, [tool], task="Which city is the capital of France?", config=settings(effort="low")
    )
    schema = model.calls_for("Planning")[0].schema
    assert "direct" not in schema["properties"]["mode"]["enum"]
    assert state["triage"].depth == "low"


def test_a_placeholder_makes_its_step_a_dependency() -> None:
    tool, log = recording_tool(answer=lambda q: f"<{q}>")
    uses_s1 = {
        "id": "s2",
        "goal": "follow up",
        "tool": "lookup",
        "input": {"query": "after {{s1}}"},
    }  # no depends_on given
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "x"), uses_s1)], "Synthesis": [synthesis("s2.1")]}
    )
    state, _ = run_research(model, [tool])
    assert state["plans"][0].step("s2").depends_on == ("s1",)
    assert log.count("after <x>") == 1


def test_a_step_using_its_own_result_is_sent_back() -> None:
    tool, _ = recording_tool()
    selfish = {**step("s1", "x"), "input": {"query": "about {{s1}}"}}
    model = ScriptedChatModel(
        script={
            "Planning": [planning(selfish), planning(step("s1", "x"))],
            "Synthesis": [synthesis("s1.1")],
        }
    )
    state, _ = run_research(model, [tool])
    assert "uses its own result" in model.calls_for("Planning")[1].prompt
    assert state["status"] == "done"
