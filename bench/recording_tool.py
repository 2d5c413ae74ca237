"""A tool that records when each call started and ended: shared by tests and benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.tools import BaseTool, StructuredTool

__all__ = ["ToolLog", "recording_tool"]


@dataclass
class ToolLog:
    """When each call of a recording tool started and ended, by its query."""

    calls: list[tuple[str, float, float]] = field(default_factory=list)

    def span(self, query: str) -> tuple[float, float]:
        return next((s, e) for q, s, e in self.calls if q == query)

    def count(self, query: str | None = None) -> int:
        return sum(1 for q, _, _ in self.calls if query is None or q == query)


def recording_tool(
    name: str = "lookup",
    *,
    delays: dict[str, float] | None = None,
    answer: Callable[[str], str] | None = None,
    fail: set[str] | None = None,
) -> tuple[BaseTool, ToolLog]:
    """A tool that sleeps per query, records its span, and answers (or raises)."""
    log = ToolLog()
    delays = delays or {}
    fail = fail or set()

    async def run(query: str) -> str:
        start = time.monotonic()
        await asyncio.sleep(delays.get(query, 0.0))
        log.calls.append((query, start, time.monotonic()))
        if query in fail:
            raise RuntimeError(f"backend failed for {query!r}")
        return (
            answer(query)
            if answer
            else f"Fact about {query}: the value of {query} is {len(query)}."
        )

    tool = StructuredTool.from_function(
        coroutine=run, name=name, description=f"{name}: look up one fact by query"
    )
    return tool, log
