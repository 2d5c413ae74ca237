"""A step whose tool needs approval never starts before a person approves it.

Issue 9 item 1: the planner's early starter used to run a ``python`` step while
the plan was still streaming, before the approval prompt appeared. The code
step sits first, in the middle and last (only the last is never started early),
and each is approved, edited and rejected; the code tool records every run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.settings import Budgets, Settings
from agent.testing import ScriptedChatModel
from agent.toolset import Toolset
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis

CODE = "print(6 * 7)"
EDITED = "print(6 * 8)"


def _code_tool(ran: Path, *, name: str = "python", **metadata: Any) -> StructuredTool:
    """A code tool whose every run leaves a line in a file: the side effect to watch."""

    def run(code: str) -> str:
        with ran.open("a", encoding="utf-8") as f:
            f.write(code + "\n")
        return "42"

    return StructuredTool.from_function(
        run, name=name, description="Run Python code.", metadata=metadata or None
    )


def _runs(ran: Path) -> list[str]:
    return ran.read_text(encoding="utf-8").splitlines() if ran.exists() else []


def _code_step(sid: str, code: str = CODE) -> dict[str, Any]:
    return {"id": sid, "goal": "compute", "tool": "python", "input": {"code": code}}


# Where the code step sits, and which lookup step the answer cites.
PLANS: dict[str, tuple[list[dict[str, Any]], str, str]] = {
    "first": ([_code_step("s1"), step("s2", "a"), step("s3", "b")], "s1", "s2.1"),
    "middle": ([step("s1", "a"), _code_step("s2"), step("s3", "b")], "s2", "s1.1"),
    "last": ([step("s1", "a"), step("s2", "b"), _code_step("s3")], "s3", "s1.1"),
}


def _pause(graph: Any, feed: Any, config: dict[str, Any]) -> dict[str, Any] | None:
    graph.invoke(feed, config)
    snapshot = graph.get_state(config)
    return snapshot.interrupts[0].value if snapshot.interrupts else None


@pytest.mark.parametrize("decision", ["approve", "edit", "reject"])
@pytest.mark.parametrize("where", list(PLANS))
def test_code_runs_only_after_a_person_approves_it(
    tmp_path: Path, where: str, decision: str
) -> None:
    steps, code_id, cite = PLANS[where]
    ran = tmp_path / "ran.txt"
    lookup, log = recording_tool(delays={"a": 0.05, "b": 0.05})
    model = ScriptedChatModel(
        script={
            "Planning": [planning(*steps)],
            "Reflection": [{"verdicts": [], "decision": "continue", "reason": "fine without"}],
            "Synthesis": [synthesis(cite)],
        },
        latency_s=0.02,  # the plan streams in pieces, so early starts get their chance
    )
    graph = build_research_graph(
        model,
        [lookup, _code_tool(ran, ponder_runs_code=True)],
        checkpointer=InMemorySaver(),
        settings=Settings(approve_code=True),
    )
    config = {"configurable": {"thread_id": f"t-{where}-{decision}"}}

    request = _pause(graph, {"task": "compute"}, config)
    assert request is not None and request["kind"] == "code_approval"
    assert request["step_id"] == code_id and request["input"] == {"code": CODE}
    assert _runs(ran) == [], "the code ran before the person was asked"

    answer: dict[str, Any] = {"decision": decision}
    if decision == "edit":
        answer["input"] = {"code": EDITED}
    assert _pause(graph, Command(resume=answer), config) is None
    state = graph.get_state(config).values
    assert state["status"] == "done"
    assert log.count("a") == 1 and log.count("b") == 1
    record = state["steps"][code_id]
    if decision == "approve":
        assert _runs(ran) == [CODE] and record.ok
    elif decision == "edit":
        assert _runs(ran) == [EDITED] and record.input == {"code": EDITED}
        assert state["plans"][-1].origin == "edited"
        assert state["plans"][-1].step(code_id).input == {"code": EDITED}
    else:
        assert _runs(ran) == []
        assert record.observation.error is not None
        assert record.observation.error.kind == "refused"


def test_an_invalid_edit_asks_again(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    lookup, _ = recording_tool()
    model = ScriptedChatModel(
        script={"Planning": [planning(_code_step("s1"))], "Synthesis": [synthesis("s1.1")]}
    )
    graph = build_research_graph(
        model,
        [lookup, _code_tool(ran, ponder_runs_code=True)],
        checkpointer=InMemorySaver(),
        settings=Settings(approve_code=True),
    )
    config = {"configurable": {"thread_id": "t-bad-edit"}}
    _pause(graph, {"task": "compute"}, config)
    again = _pause(graph, Command(resume={"decision": "edit", "input": {"cmd": "x"}}), config)
    assert again is not None and "invalid" in again["error"]
    assert _runs(ran) == []
    assert _pause(graph, Command(resume={"decision": "approve"}), config) is None
    assert _runs(ran) == [CODE]


def test_a_tool_marked_needs_approval_waits_too(tmp_path: Path) -> None:
    """Side-effecting tools (MCP tools marked ``needs_approval``) wait like code does."""
    ran = tmp_path / "ran.txt"
    lookup, _ = recording_tool()
    send = _code_tool(ran, name="send_mail", needs_approval=True)
    mail = {"id": "s1", "goal": "send", "tool": "send_mail", "input": {"code": "hi"}}
    model = ScriptedChatModel(
        script={
            "Planning": [planning(mail, step("s2", "a"), step("s3", "b"))],
            "Reflection": [{"verdicts": [], "decision": "continue", "reason": "fine"}],
            "Synthesis": [synthesis("s2.1")],
        },
        latency_s=0.02,
    )
    graph = build_research_graph(
        model, [lookup, send], checkpointer=InMemorySaver(), settings=Settings(approve_code=True)
    )
    config = {"configurable": {"thread_id": "t-mail"}}
    request = _pause(graph, {"task": "mail"}, config)
    assert request is not None and request["tool"] == "send_mail"
    assert _runs(ran) == []
    assert _pause(graph, Command(resume={"decision": "reject"}), config) is None
    assert _runs(ran) == []


def test_which_tools_need_approval(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    lookup, _ = recording_tool()
    tools = Toolset(
        [
            lookup,
            _code_tool(ran),  # named python, no metadata
            _code_tool(ran, name="runner", ponder_runs_code=True),
            _code_tool(ran, name="mcp_write", needs_approval=True),
            _code_tool(ran, name="mcp_read", needs_approval=False),
        ]
    )
    needing = [n for n in tools.names if tools.needs_approval(n)]
    assert needing == ["python", "runner", "mcp_write"]


def test_a_retry_and_a_replan_each_wait_for_their_own_approval(tmp_path: Path) -> None:
    """Attempt 2 of a code step is new work: it waits again. So does a replan's code step."""
    ran = tmp_path / "ran.txt"
    calls = {"n": 0}

    def run(code: str) -> str:
        calls["n"] += 1
        with ran.open("a", encoding="utf-8") as f:
            f.write(code + "\n")
        if calls["n"] == 1:
            time.sleep(1.5)  # past the step timeout: a transient failure, retried by rule
        return "42"

    slow_code = StructuredTool.from_function(
        run, name="python", description="Run Python code.", metadata={"ponder_runs_code": True}
    )
    lookup, _ = recording_tool(fail={"broken"})
    replan = {
        "reasoning": "compute it instead",
        "keep": [],
        "steps": [_code_step("s3", EDITED), step("s4", "b")],
    }
    model = ScriptedChatModel(
        script={
            "Planning": [planning(_code_step("s1"), step("s2", "broken", ("s1",)))],
            "Reflection": [
                {"verdicts": [], "decision": "replan", "reason": "s2 broke"},
                {"verdicts": [], "decision": "continue", "reason": "carry on"},
            ],
            "Replanning": [replan],
            "Synthesis": [synthesis("s4.1")],
        },
        latency_s=0.02,
    )
    settings = Settings(approve_code=True, budgets=Budgets(step_timeout_s=0.5))
    graph = build_research_graph(
        model, [lookup, slow_code], checkpointer=InMemorySaver(), settings=settings
    )
    config = {"configurable": {"thread_id": "t-retry-replan"}}
    first = _pause(graph, {"task": "compute"}, config)
    assert first is not None and first["step_id"] == "s1" and _runs(ran) == []
    again = _pause(graph, Command(resume={"decision": "approve"}), config)
    assert again is not None and again["step_id"] == "s1", "the retry did not ask again"
    assert _runs(ran) == [CODE]
    replanned = _pause(graph, Command(resume={"decision": "approve"}), config)
    assert replanned is not None and replanned["step_id"] == "s3"
    assert _runs(ran) == [CODE, CODE], "the replan's code step ran before it was approved"
    assert _pause(graph, Command(resume={"decision": "reject"}), config) is None
    assert _runs(ran) == [CODE, CODE]


def test_a_resumed_run_still_waits_for_approval(tmp_path: Path) -> None:
    """A fresh graph on the same checkpoint (a new process) asks before running the code."""
    ran = tmp_path / "ran.txt"
    lookup, _ = recording_tool()
    saver = InMemorySaver()
    script = {
        "Planning": [planning(_code_step("s1"), step("s2", "a"), step("s3", "b"))],
        "Synthesis": [synthesis("s2.1")],
    }

    def graph() -> Any:
        return build_research_graph(
            ScriptedChatModel(script=script, latency_s=0.02),
            [lookup, _code_tool(ran, ponder_runs_code=True)],
            checkpointer=saver,
            settings=Settings(approve_code=True),
        )

    config = {"configurable": {"thread_id": "t-resume"}}
    assert _pause(graph(), {"task": "compute"}, config) is not None
    resumed = graph()
    resumed.invoke(None, config)  # resuming without an answer asks again
    assert resumed.get_state(config).interrupts and _runs(ran) == []
    assert _pause(resumed, Command(resume={"decision": "approve"}), config) is None
    assert _runs(ran) == [CODE]
