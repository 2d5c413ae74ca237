"""Human-in-the-loop round trips through interrupt() and a checkpointer."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.settings import Settings
from agent.testing import ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis


def _graph(model: ScriptedChatModel, tools: list[Any], **flags: bool) -> Any:
    return build_research_graph(
        model, tools, checkpointer=InMemorySaver(), settings=Settings(**flags)
    )


def _pause(graph: Any, feed: Any, config: dict[str, Any]) -> dict[str, Any] | None:
    graph.invoke(feed, config)
    snapshot = graph.get_state(config)
    return snapshot.interrupts[0].value if snapshot.interrupts else None


def test_plan_waits_for_approval_then_runs() -> None:
    tool, log = recording_tool()
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s1.1")]}
    )
    graph = _graph(model, [tool], approve_plan=True)
    config = {"configurable": {"thread_id": "t-approve"}}
    request = _pause(graph, {"task": "What is a?"}, config)
    assert request is not None and request["kind"] == "plan_approval"
    assert [s["id"] for s in request["steps"]] == ["s1"]
    assert log.count() == 0, "a step ran before the plan was approved"
    assert _pause(graph, Command(resume={"decision": "approve"}), config) is None
    assert graph.get_state(config).values["status"] == "done"
    assert log.count("a") == 1


def test_edited_plan_is_validated_and_replaces_the_plan() -> None:
    tool, log = recording_tool()
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s2.1")]}
    )
    graph = _graph(model, [tool], approve_plan=True)
    config = {"configurable": {"thread_id": "t-edit"}}
    _pause(graph, {"task": "What is a?"}, config)
    bad = {"decision": "edit", "steps": [step("s2", "x", ("s2",))]}
    again = _pause(graph, Command(resume=bad), config)
    assert again is not None and "depends on itself" in again["error"]
    good = {"decision": "edit", "steps": [step("s2", "edited query")]}
    assert _pause(graph, Command(resume=good), config) is None
    state = graph.get_state(config).values
    assert state["plans"][-1].origin == "edited" and state["plans"][-1].ids == ("s2",)
    assert log.count("edited query") == 1 and log.count("a") == 0


def test_rejection_feedback_reaches_the_planner() -> None:
    tool, log = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "a")), planning(step("s1", "better"))],
            "Synthesis": [synthesis("s1.1")],
        }
    )
    graph = _graph(model, [tool], approve_plan=True)
    config = {"configurable": {"thread_id": "t-reject"}}
    _pause(graph, {"task": "What is a?"}, config)
    second = _pause(
        graph,
        Command(resume={"decision": "reject", "feedback": "search for 'better' instead"}),
        config,
    )
    assert second is not None and second["version"] == 2
    assert "search for 'better' instead" in model.calls_for("Planning")[1].prompt
    _pause(graph, Command(resume={"decision": "approve"}), config)
    state = graph.get_state(config).values
    assert state["status"] == "done" and log.count("better") == 1 and log.count("a") == 0
    assert state["plans"][-1].origin == "revised"


def test_code_step_needs_approval_and_a_refusal_is_an_observation() -> None:
    ran: list[str] = []

    def python(code: str) -> str:
        ran.append(code)
        return "ok"

    code_tool = StructuredTool.from_function(
        python, name="python", description="Run Python code.", metadata={"ponder_runs_code": True}
    )
    tool, log = recording_tool()
    plan = planning(
        step("s1", "a"),
        {
            "id": "s2",
            "goal": "compute",
            "tool": "python",
            "input": {"code": "print(1)"},
            "depends_on": [],
        },
    )
    model = ScriptedChatModel(
        script={
            "Planning": [plan],
            "Reflection": [{"verdicts": [], "decision": "continue", "reason": "fine without"}],
            "Synthesis": [synthesis("s1.1")],
        }
    )
    graph = _graph(model, [tool, code_tool], approve_code=True)
    config = {"configurable": {"thread_id": "t-code"}}
    request = _pause(graph, {"task": "compute"}, config)
    assert request is not None and request["kind"] == "code_approval"
    assert request["input"] == {"code": "print(1)"}
    assert _pause(graph, Command(resume={"decision": "reject"}), config) is None
    state = graph.get_state(config).values
    assert ran == [] and state["steps"]["s2"].observation.error.kind == "refused"
    assert log.count("a") == 1 and state["status"] == "done"
