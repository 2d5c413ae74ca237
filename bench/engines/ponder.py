"""Ponder's research graph, as shipped: effort "auto", so triage picks the depth.

``ponder-compact`` is the same graph with ``plan_format="compact"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from langchain_core.runnables import RunnableConfig

from agent.settings import Budgets, Settings
from bench.adapters import BenchChatModel
from bench.runs import RunContext
from bench.runs import uses_real_tools as _real
from bench.simtools import make_tools
from graphs.research import build_research_graph

__all__ = ["prepare"]


def prepare(ctx: RunContext) -> Callable[[], Awaitable[str]]:
    budgets = Budgets(max_steps=ctx.workload.max_steps(), max_model_calls=64)
    graph = build_research_graph(
        BenchChatModel(ctx.meter),
        make_tools(ctx.world, list(ctx.workload.tools), real=_real(ctx)),
        checkpointer=ctx.checkpointer,
        # The workloads script no notes (their pages are short and the rows predate notes):
        # pinned off so a workload triage sends to high depth is measured as before.
        settings=Settings(
            effort="auto",
            budgets=budgets,
            notes=False,
            plan_format="compact" if ctx.framework == "ponder-compact" else "auto",
        ),
    )
    config: RunnableConfig = {"configurable": {"thread_id": ctx.thread_id}}

    async def run() -> str:
        out = await graph.ainvoke({"task": ctx.workload.task}, config)
        if out.get("status") != "done":
            raise RuntimeError(f"run ended {out.get('status')}: {out.get('stop_reason')}")
        return str(out["answer"].markdown)

    return run
