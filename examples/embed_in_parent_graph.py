"""Use Ponder's research graph as one node of your own LangGraph graph.

    python examples/embed_in_parent_graph.py

The parent graph frames a question as a research task, runs Ponder's compiled
graph as a subgraph, then turns the cited answer into a short brief. The
subgraph reads the parent's ``task`` key and writes back ``answer``,
``status``, ``stop_reason`` and ``usage``; it checkpoints into the parent's
checkpointer under its own namespace, so the whole run resumes as one; give that
checkpointer ``checkpoint_serde()`` so it revives Ponder's state types.

The model here is `agent.testing.ScriptedChatModel` (scripted replies, so the
example is instant and exact); the tools are real: ``corpus_search`` over the
example corpus. Pass any chat model instead, e.g. ``resolve_model("demo")``.
"""

from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from agent import Answer, Usage, checkpoint_serde, default_store_path
from agent.testing import ScriptedChatModel
from graphs import build_research_graph
from tools import CorpusOptions, corpus_tools

CORPUS = Path(__file__).resolve().parent / "corpus"


class Brief(TypedDict, total=False):
    question: str
    audience: str
    # The research subgraph's input and output keys, shared with the parent:
    task: str
    answer: Answer | None
    status: str
    stop_reason: str
    usage: Usage
    # The parent's own:
    brief: str
    log: Annotated[list[str], operator.add]


def scripted_model() -> ScriptedChatModel:
    """What a real model would reply to the planner and the writer, scripted."""
    search = {"tool": "corpus_search", "depends_on": []}
    return ScriptedChatModel(
        script={
            "Planning": [
                {
                    "mode": "research",
                    "depth": "medium",
                    "triage_reason": "two facts from the corpus",
                    "reasoning": "Find how gather reports errors, then what TaskGroup does.",
                    "steps": [
                        {**search, "id": "s1", "goal": "gather and exceptions",
                         "input": {"query": "gather return_exceptions"}},
                        {**search, "id": "s2", "goal": "TaskGroup on failure",
                         "input": {"query": "TaskGroup cancels remaining tasks"}},
                    ],
                }
            ],
            "Synthesis": [
                {
                    "claims": [
                        {"text": "With return_exceptions=True, a CancelledError is in the "
                                 "result list.", "cites": ["s1.1"]},
                        {"text": "The group cancels the remaining tasks when the body raises.",
                         "cites": ["s2.1"]},
                    ],
                    "gaps": [],
                }
            ],
        }
    )  # fmt: skip


def frame(state: Brief) -> dict[str, Any]:
    task = f"For {state['audience']}: {state['question']}"
    return {"task": task, "log": [f"framed the task: {task!r}"]}


def publish(state: Brief) -> dict[str, Any]:
    answer = state.get("answer")
    if answer is None:
        return {"brief": "(no answer)", "log": ["nothing to publish"]}
    sources = sorted({c.source.split("#")[0] for c in answer.citations})
    brief = f"{answer.markdown.split('**Sources**')[0].strip()}\n\nSources: {', '.join(sources)}"
    return {"brief": brief, "log": [f"published a brief citing {len(answer.citations)} passages"]}


def main() -> None:
    index_dir = default_store_path(os.environ).parent / "corpus-index"  # shared with the CLI
    tools = corpus_tools(CorpusOptions(root=CORPUS, index_dir=index_dir))
    research = build_research_graph(scripted_model(), tools)

    parent = StateGraph(Brief)
    parent.add_node("frame", frame)
    parent.add_node("research", research)  # the compiled graph is the node
    parent.add_node("publish", publish)
    parent.add_edge(START, "frame")
    parent.add_edge("frame", "research")
    parent.add_edge("research", "publish")
    parent.add_edge("publish", END)
    # A serializer that revives Ponder's state types and refuses any other class.
    # (`saver.with_allowlist(checkpoint_allowlist())` is enough under strict msgpack;
    # LangGraph's permissive default ignores it and warns about every Ponder type.)
    saver = InMemorySaver(serde=checkpoint_serde())
    app = parent.compile(checkpointer=saver)

    config = {"configurable": {"thread_id": "brief-1"}}
    out = app.invoke(
        {"question": "What happens to sibling tasks when one fails?", "audience": "new hires"},
        config,
    )
    print("\n".join(f"parent: {line}" for line in out["log"]))
    print(f"research status: {out['status']} ({out['stop_reason']})")
    print(f"\n{out['brief']}\n")
    spaces = sorted({c.config["configurable"].get("checkpoint_ns", "") for c in saver.list(None)})
    shown = ", ".join(ns.split(":")[0] or "(parent)" for ns in spaces)
    print(f"checkpoint namespaces in the parent's saver: {shown}")


if __name__ == "__main__":
    main()
