"""LangChain's ``create_agent`` (the successor of ``create_react_agent``), run async.

Parallel tool calls: the model-to-tools edge sends one ``Send("tools", [call])``
per call, so the calls of one turn run as concurrent tasks of one LangGraph
superstep (asyncio tasks under ``ainvoke``, a thread pool under ``invoke``);
the next model turn waits for all of them (the superstep is a barrier).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from bench.adapters import BenchChatModel
from bench.runs import RunContext
from bench.runs import uses_real_tools as _real
from bench.simtools import make_tools

__all__ = ["prepare"]


def prepare(ctx: RunContext) -> Callable[[], Awaitable[str]]:
    agent = create_agent(
        BenchChatModel(ctx.meter),
        make_tools(ctx.world, list(ctx.workload.tools), real=_real(ctx)),
        checkpointer=ctx.checkpointer,
    )
    config: RunnableConfig = {"configurable": {"thread_id": ctx.thread_id}, "recursion_limit": 500}

    async def run() -> str:
        out = await agent.ainvoke({"messages": [HumanMessage(ctx.workload.task)]}, config)
        return str(out["messages"][-1].content)

    return run
