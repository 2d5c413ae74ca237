"""Simulated tools as Ponder `ObservingTool`s, shared by Ponder and LangChain's agent.

LangChain's agent reads each tool's content (the fenced text); Ponder reads
the `Observation` artifact of the very same call. Latencies are real sleeps on
the caller's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field, SkipValidation

from agent.observation import Observation
from bench.meter import ToolSpan
from bench.world import NOOP_TEXT, World
from tools._base import ObservingTool

__all__ = ["TOOL_SPECS", "ToolSpec", "make_tools", "real_tool"]


class SearchArgs(BaseModel):
    query: str = Field(description="what to search the web for")


class FetchArgs(BaseModel):
    url: str = Field(description="the address of the page to read")


class LookupArgs(BaseModel):
    query: str = Field(description="the fact to look up, e.g. 'area of Lemuria'")


class CalcArgs(BaseModel):
    expression: str = Field(description="integer arithmetic such as '12 * 3 + 7'")


class RecordArgs(BaseModel):
    key: str = Field(description="the record key, e.g. k0")


class NoopArgs(BaseModel):
    x: str = Field(description="any text")


class ToolSpec:
    """A tool as every framework sees it: name, description, arguments, body, latency."""

    def __init__(
        self,
        name: str,
        description: str,
        args: type[BaseModel],
        body: Callable[[World, str], Observation],
        latency: Callable[[World, str], float],
    ) -> None:
        self.name, self.description, self.args = name, description, args
        self.body, self.latency = body, latency
        self.arg = next(iter(args.model_fields))

    def run_sync(self, world: World, value: str) -> Observation:
        start = time.monotonic()
        delay = self.latency(world, value)
        if delay:
            time.sleep(delay)
        obs = self.body(world, value)
        world.meter.add(ToolSpan(self.name, value, start, time.monotonic(), delay))
        return obs

    async def run_async(self, world: World, value: str) -> Observation:
        start = time.monotonic()
        delay = self.latency(world, value)
        if delay:
            await asyncio.sleep(delay)
        obs = self.body(world, value)
        world.meter.add(ToolSpan(self.name, value, start, time.monotonic(), delay))
        return obs


def _noop(world: World, value: str) -> Observation:
    # A sentence, not "ok": the answer cites it, and a cited claim must say what it says.
    return Observation(tool="noop", ok=True, content=NOOP_TEXT, value=NOOP_TEXT)


TOOL_SPECS: dict[str, ToolSpec] = {
    s.name: s
    for s in (
        ToolSpec(
            "web_search",
            "Search the web; returns the top results with title, URL and snippet.",
            SearchArgs,
            World.search,
            World.search_latency,
        ),
        ToolSpec(
            "fetch_url",
            "Read one web page and return its text.",
            FetchArgs,
            World.fetch,
            World.fetch_latency,
        ),
        ToolSpec(
            "lookup",
            "Look up one fact in the reference database.",
            LookupArgs,
            World.lookup,
            World.lookup_latency,
        ),
        ToolSpec(
            "calc",
            "Evaluate integer arithmetic exactly.",
            CalcArgs,
            World.calc,
            lambda world, _: 0.1 * world.scale,
        ),
        ToolSpec(
            "read_record",
            "Read one archive record by key; each record names the next key.",
            RecordArgs,
            World.record,
            lambda world, _: 0.0,
        ),
        ToolSpec("noop", "Do nothing and say that it ran.", NoopArgs, _noop, lambda world, _: 0.0),
    )
}


class SimTool(ObservingTool):
    """One simulated tool bound to a world."""

    spec: SkipValidation[ToolSpec]
    world: SkipValidation[World]  # shared, never copied: it records the tool calls

    async def observe(self, **kwargs: Any) -> Observation:
        return await self.spec.run_async(self.world, str(kwargs[self.spec.arg]))


def real_tool(world: World, name: str) -> BaseTool:
    """Ponder's real fetch tool (opened to the world's loopback server) or code sandbox."""
    from urllib.parse import urlsplit

    if name == "fetch_url":
        from tools.fetch import FetchTool
        from tools.netguard import NetworkPolicy

        host = urlsplit(world.base).netloc
        return FetchTool(policy=NetworkPolicy(allow_hosts=(host,)))
    if name == "python":
        from tools.code import PythonTool

        return PythonTool()
    return make_tools(world, [name])[0]


def make_tools(world: World, names: list[str], *, real: bool = False) -> list[BaseTool]:
    """The workload's tools; with ``real``, fetch and python are Ponder's real tools."""
    if real:
        return [real_tool(world, n) for n in names]
    return [
        SimTool(
            name=TOOL_SPECS[n].name,
            description=TOOL_SPECS[n].description,
            args_schema=TOOL_SPECS[n].args,
            spec=TOOL_SPECS[n],
            world=world,
        )
        for n in names
    ]
