"""The prebuilt graphs work standalone (sync and async) and as a parent graph's node."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from agent.state import Answer
from agent.testing import ScriptedChatModel
from graphs.plan_execute import build_plan_execute_graph
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis


def _model() -> ScriptedChatModel:
    return ScriptedChatModel(
        repeat_last=True,
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s1.1")]},
    )


def test_invoke_and_stream_sync() -> None:
    tool_, _ = recording_tool()
    graph = build_research_graph(_model(), [tool_])
    out = graph.invoke({"task": "What is a?"})
    assert out["status"] == "done" and out["answer"].citations
    modes = {
        mode for mode, _ in graph.stream({"task": "What is a?"}, stream_mode=["custom", "updates"])
    }
    assert modes == {"custom", "updates"}


async def test_ainvoke_and_astream() -> None:
    tool_, _ = recording_tool()
    graph = build_research_graph(_model(), [tool_])
    out = await graph.ainvoke({"task": "What is a?"})
    assert out["status"] == "done"
    kinds = [c["type"] async for c in graph.astream({"task": "What is a?"}, stream_mode="custom")]
    assert kinds[-1] == "usage" and "answer" in kinds


class Parent(TypedDict, total=False):
    question: str
    task: str
    answer: Answer | None
    status: str
    log: Annotated[list[str], operator.add]


def test_embedded_as_a_subgraph_sharing_the_parents_checkpointer() -> None:
    tool_, log = recording_tool()
    research = build_research_graph(_model(), [tool_])

    def prepare(state: Parent) -> dict[str, Any]:
        return {"task": f"Explain {state['question']}", "log": ["prepared"]}

    def publish(state: Parent) -> dict[str, Any]:
        answer = state["answer"]
        return {"log": [f"published {len(answer.citations) if answer else 0} citations"]}

    parent = StateGraph(Parent)
    parent.add_node("prepare", prepare)
    parent.add_node("research", research)
    parent.add_node("publish", publish)
    parent.add_edge(START, "prepare")
    parent.add_edge("prepare", "research")
    parent.add_edge("research", "publish")
    parent.add_edge("publish", END)
    saver = InMemorySaver()
    app = parent.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "parent-1"}}
    out = app.invoke({"question": "a"}, config)
    assert out["status"] == "done"
    assert out["log"] == ["prepared", "published 1 citations"]
    assert log.count("a") == 1
    namespaces = {c.config["configurable"].get("checkpoint_ns", "") for c in saver.list(None)}
    assert any(ns.startswith("research:") for ns in namespaces), namespaces
    events = [
        c
        for _, c in app.stream(
            {"question": "a"},
            {"configurable": {"thread_id": "p2"}},
            stream_mode="custom",
            subgraphs=True,
        )
    ]
    assert [e["type"] for e in events][-1] == "usage"


def test_plan_execute_graph_runs_any_tool_function() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    model = ScriptedChatModel(
        script={
            "Planning": [
                {
                    "mode": "compute",
                    "depth": "low",
                    "triage_reason": "arithmetic",
                    "reasoning": "add",
                    "steps": [
                        {
                            "id": "s1",
                            "goal": "sum",
                            "tool": "add",
                            "input": {"a": 2, "b": 40},
                            "depends_on": [],
                        }
                    ],
                }
            ],
            "Synthesis": [{"claims": [{"text": "The sum is 42.", "cites": ["s1.1"]}], "gaps": []}],
        }
    )
    graph = build_plan_execute_graph(model, [add])
    out = graph.invoke({"task": "Add 2 and 40 with the tool"})
    assert "The sum is 42. [1]" in out["answer"].markdown
    assert out["answer"].citations[0].quote == "42"
    planner_prompt = model.calls_for("Planning")[0].prompt
    assert "- add(a, b): Add two integers." in planner_prompt
    assert "    a (integer, required): " in planner_prompt
