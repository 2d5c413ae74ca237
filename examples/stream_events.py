"""Print Ponder's typed events as they arrive, the way a UI or a log would consume them.

    python examples/stream_events.py ["your question"]

Nodes emit the events through LangGraph's custom stream as plain JSON-ready
dicts (so they cross a LangGraph server unchanged); `parse_event` turns each
back into its pydantic model. The run uses the offline demo model over the
example corpus, so it takes about a minute; with streaming planning a step may
start before its plan event arrives.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from pathlib import Path

from agent import Event, Settings, default_store_path, parse_event, resolve_model
from graphs import build_research_graph
from tools import CorpusOptions, corpus_tools

CORPUS = Path(__file__).resolve().parent / "corpus"
TASK = "How does asyncio.gather handle exceptions, and how does TaskGroup differ?"


def describe(e: Event) -> str:
    """One line per event; every event type has its own fields."""
    if e.type == "triage":
        return f"triage: {e.mode}, depth {e.depth} (decided by {e.decided_by})"
    if e.type == "plan":
        steps = "; ".join(f"{s.id} {s.tool}({s.input})" for s in e.steps)
        return f"plan v{e.version} ({e.reason}): {steps}"
    if e.type == "step_started":
        return f"step {e.step_id} started: {e.tool} {e.input}"
    if e.type == "step_finished":
        return f"step {e.step_id} {e.status} in {e.duration_s:.2f}s: {e.summary[:90]}"
    if e.type == "reflection":
        return f"reflection: {e.decision} ({e.reason})"
    if e.type == "replan":
        return f"replan from v{e.from_version}: {e.reason}"
    if e.type == "approval":
        return f"approval of v{e.version}: {e.decision}"
    if e.type == "citation_check":
        return (
            f"citation check: {e.kept} of {e.checked} citations verified "
            f"({e.quoted} quoted, {e.supported} supported, {e.unsupported} unsupported)"
        )
    if e.type == "answer":
        return f"answer ({e.status}), {len(e.citations)} citations:\n{e.markdown}"
    return (
        f"usage: {e.model_calls} model calls, {e.input_tokens}+{e.output_tokens} tokens, "
        f"{e.tool_calls} tool calls, {e.wall_s:.1f}s"
    )


async def main() -> None:
    task = " ".join(sys.argv[1:]) or TASK
    index_dir = default_store_path(os.environ).parent / "corpus-index"
    tools = corpus_tools(CorpusOptions(root=CORPUS, index_dir=index_dir))
    graph = build_research_graph(resolve_model("demo"), tools, settings=Settings(effort="medium"))

    t0 = time.monotonic()
    seen: Counter[str] = Counter()
    async for chunk in graph.astream({"task": task}, stream_mode="custom"):
        event = parse_event(chunk)
        seen[event.type] += 1
        print(f"[{time.monotonic() - t0:6.2f}s] {describe(event)}", flush=True)
    print("\nevents seen: " + ", ".join(f"{kind} x{n}" for kind, n in seen.items()))


if __name__ == "__main__":
    asyncio.run(main())
