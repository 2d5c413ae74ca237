"""The base every Ponder tool shares: async-first, typed observations, no raised failures.

A subclass implements `observe` (async) and returns an `Observation`. The tool
is a ``content_and_artifact`` LangChain tool: any LangChain agent gets the text
(fenced when untrusted), and Ponder's executor gets the `Observation` as the
artifact. Sync callers run on Ponder's I/O loop, so loop-bound resources such
as the browser pool are shared by every caller.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Literal

from langchain_core.tools import BaseTool

from agent._internal.io_loop import io_loop
from agent.observation import Observation, fence

__all__ = ["ObservingTool"]


class ObservingTool(BaseTool):
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    @abstractmethod
    async def observe(self, **kwargs: Any) -> Observation:
        """Do the work; report every failure as an error observation."""

    async def _arun(self, *args: Any, **kwargs: Any) -> tuple[str, Observation]:
        kwargs.pop("run_manager", None)
        obs = await self.observe(**kwargs)
        return fence(obs), obs

    def _run(self, *args: Any, **kwargs: Any) -> tuple[str, Observation]:
        kwargs.pop("run_manager", None)
        obs = io_loop().run(self.observe(**kwargs))
        return fence(obs), obs
