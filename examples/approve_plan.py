"""A person approves each plan before it runs, through ``interrupt()`` and ``Command(resume=)``.

    python examples/approve_plan.py

With ``Settings(approve_plan=True)`` and a checkpointer, the graph pauses after
every plan (and every replan) with the plan as the interrupt value. Resume it
with one of:

    {"decision": "approve"}
    {"decision": "reject", "feedback": "..."}     the planner tries again with this
    {"decision": "edit", "steps": [...]}          checked like a planner's plan

Here the "person" is scripted: reject the first plan, then edit the second.
The model is `agent.testing.ScriptedChatModel` (scripted replies); the tools
are real: ``corpus_search`` and ``read_document`` over the example corpus.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent import Settings, checkpoint_serde, default_store_path, parse_event
from agent.testing import ScriptedChatModel
from graphs import build_research_graph
from tools import CorpusOptions, corpus_tools

CORPUS = Path(__file__).resolve().parent / "corpus"


def _search(sid: str, query: str) -> dict[str, Any]:
    return {
        "id": sid,
        "goal": f"find: {query}",
        "tool": "corpus_search",
        "input": {"query": query},
        "depends_on": [],
    }


def scripted_model() -> ScriptedChatModel:
    first = {
        "mode": "research",
        "depth": "medium",
        "triage_reason": "a corpus question",
        "reasoning": "Search broadly for timeouts.",
        "steps": [_search("s1", "timeouts")],
    }
    revised = {**first, "reasoning": "Compare both APIs.", "steps": [
        _search("s1", "asyncio.timeout context manager"),
        _search("s2", "wait_for cancels"),
    ]}  # fmt: skip
    answer = {
        "claims": [
            {"text": "When the delay of asyncio.timeout expires, the task is cancelled.",
             "cites": ["s1.1"]},
            {"text": "asyncio.shield protects the inner awaitable from cancellation.",
             "cites": ["s3.1"]},
        ],
        "gaps": [],
    }  # fmt: skip
    return ScriptedChatModel(script={"Planning": [first, revised], "Synthesis": [answer]})


def show(request: dict[str, Any]) -> None:
    print(f"\nPaused for approval of plan v{request['version']}:")
    for s in request["steps"]:
        print(f"  {s['id']} {s['tool']} {s['input']}")
    if request["error"]:
        print(f"  (last edit refused: {request['error']})")


def pending(graph: Any, config: Any) -> dict[str, Any]:
    """The plan the paused run waits on."""
    interrupts = graph.get_state(config).interrupts
    if not interrupts:
        raise SystemExit("expected the run to pause for approval")
    request: dict[str, Any] = interrupts[0].value
    return request


def advance(graph: Any, value: Any, config: Any) -> None:
    """Run to the next pause (or the end), printing the approvals the graph recorded."""
    for chunk in graph.stream(value, config, stream_mode="custom"):
        event = parse_event(chunk)
        if event.type == "approval":
            why = f" ({event.feedback})" if event.feedback else ""
            print(f"   graph recorded: plan v{event.version} {event.decision}{why}")


def main() -> None:
    index_dir = default_store_path(os.environ).parent / "corpus-index"
    tools = corpus_tools(CorpusOptions(root=CORPUS, index_dir=index_dir))
    graph = build_research_graph(
        scripted_model(),
        tools,
        checkpointer=InMemorySaver(serde=checkpoint_serde()),
        settings=Settings(effort="medium", approve_plan=True),
    )
    config = {"configurable": {"thread_id": "approval-demo"}}

    advance(graph, {"task": "How do asyncio timeouts cancel work?"}, config)
    request = pending(graph, config)
    show(request)
    print("-> reject: 'compare asyncio.timeout with wait_for'")
    feedback = "compare asyncio.timeout with wait_for"
    advance(graph, Command(resume={"decision": "reject", "feedback": feedback}), config)

    request = pending(graph, config)
    show(request)
    edited = [*request["steps"], _search("s3", "shield")]
    print("-> edit: add s3 corpus_search 'shield'")
    advance(graph, Command(resume={"decision": "edit", "steps": edited}), config)

    out = graph.get_state(config).values
    final = out["plans"][-1]
    print(f"\nstatus: {out['status']}; plan versions: {len(out['plans'])}")
    print(f"plan v{final.version} ({final.reason}): " + ", ".join(s.id for s in final.steps))
    print(out["answer"].markdown)


if __name__ == "__main__":
    main()
