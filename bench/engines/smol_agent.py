"""smolagents' ``ToolCallingAgent`` (sync), with its default prompts and settings.

Parallel tool calls: several calls in one reply run in a
``ThreadPoolExecutor(max_tool_threads)``, whose default is Python's
``min(32, cpu_count + 4)`` workers (6 on this 2-core machine); the next step
waits for all of them. ``smolagents-par-n`` sets ``max_tool_threads`` to the
workload's step budget, so the pool grows to one thread per call of a turn
(threads start lazily, one per waiting call). Logging is off so console
rendering is not timed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from smolagents import ToolCallingAgent  # type: ignore[import-untyped]
from smolagents.monitoring import LogLevel  # type: ignore[import-untyped]

from bench.runs import RunContext
from bench.runs import uses_real_tools as _real
from bench.smol_model import BenchSmolModel
from bench.smol_tools import make_smol_tools

__all__ = ["prepare"]


def prepare(ctx: RunContext) -> Callable[[], Awaitable[str]]:
    if ctx.checkpointer is not None:
        raise ValueError("smolagents has no checkpointer")
    agent = ToolCallingAgent(
        tools=make_smol_tools(ctx.world, list(ctx.workload.tools), real=_real(ctx)),
        model=BenchSmolModel(ctx.meter),
        max_steps=ctx.workload.max_steps() * 2 + 4,
        verbosity_level=LogLevel.OFF,
        max_tool_threads=ctx.workload.max_steps() if ctx.framework.endswith("-n") else None,
    )

    async def run() -> str:
        # smolagents is synchronous: the run blocks this loop, which has nothing else to do.
        return str(agent.run(ctx.workload.task))

    return run
