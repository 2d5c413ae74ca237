"""Ponder's research graph, as shipped; ``ponder-wide`` lifts the plan cap in-process.

``ponder-wide`` is a what-if, not a configuration Ponder offers: it runs at
effort "medium" with ``DEPTHS["medium"].max_plan_steps`` raised, so a large
fan-out fits one plan. It shows what lifting the cap would buy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from langchain_core.runnables import RunnableConfig

from agent.settings import DEPTHS, Budgets, Settings
from bench.adapters import BenchChatModel
from bench.runs import RunContext
from bench.runs import uses_real_tools as _real
from bench.simtools import make_tools
from graphs.research import build_research_graph

__all__ = ["prepare"]

_WIDE_CAP = 64


@contextmanager
def _plan_cap(lifted: bool) -> Iterator[None]:
    """Raise the "medium" plan cap for the duration of one run, then put it back."""
    if not lifted:
        yield
        return
    shipped = DEPTHS["medium"]
    DEPTHS["medium"] = shipped.model_copy(update={"max_plan_steps": _WIDE_CAP})
    try:
        yield
    finally:
        DEPTHS["medium"] = shipped


def prepare(ctx: RunContext) -> Callable[[], Awaitable[str]]:
    wide = ctx.flavor == "ponder-wide"
    budgets = Budgets(max_steps=ctx.workload.max_steps(), max_model_calls=64)
    settings = Settings(effort="medium" if wide else "auto", budgets=budgets)
    graph = build_research_graph(
        BenchChatModel(ctx.meter),
        make_tools(ctx.world, list(ctx.workload.tools), real=_real(ctx)),
        checkpointer=ctx.checkpointer,
        settings=settings,
    )
    config: RunnableConfig = {"configurable": {"thread_id": ctx.thread_id}}

    async def run() -> str:
        with _plan_cap(wide):
            out = await graph.ainvoke({"task": ctx.workload.task}, config)
        if out.get("status") != "done":
            raise RuntimeError(f"run ended {out.get('status')}: {out.get('stop_reason')}")
        return str(out["answer"].markdown)

    return run
