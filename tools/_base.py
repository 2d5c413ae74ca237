"""The base every Ponder tool shares: async-first, typed observations, no raised failures.

A subclass implements `observe` (async) and returns an `Observation`. The tool
is a ``content_and_artifact`` LangChain tool: any LangChain agent gets the text
(fenced when untrusted), and Ponder's executor gets the `Observation` as the
artifact. Sync callers run on Ponder's I/O loop, so loop-bound resources such
as the browser pool are shared by every caller.
"""

from __future__ import annotations

import html
from abc import abstractmethod
from typing import Any, Literal

from langchain_core.tools import BaseTool

from agent._internal.io_loop import io_loop
from agent.observation import Observation

__all__ = ["ObservingTool", "render_for_model"]


def render_for_model(obs: Observation, *, limit: int = 20_000) -> str:
    """The text a model reads; untrusted text is fenced as data."""
    text = obs.content if len(obs.content) <= limit else obs.content[:limit] + "\n[…truncated]"
    if not obs.untrusted:
        return text
    # The closing tag cannot be forged from inside the data.
    body = text.replace("</untrusted_data", "&lt;/untrusted_data")
    source = html.escape(obs.passages[0].ref if obs.passages else obs.tool, quote=True)
    return f'<untrusted_data source="{source}">\n{body}\n</untrusted_data>'


class ObservingTool(BaseTool):
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    @abstractmethod
    async def observe(self, **kwargs: Any) -> Observation:
        """Do the work; report every failure as an error observation."""

    async def _arun(self, *args: Any, **kwargs: Any) -> tuple[str, Observation]:
        kwargs.pop("run_manager", None)
        obs = await self.observe(**kwargs)
        return render_for_model(obs), obs

    def _run(self, *args: Any, **kwargs: Any) -> tuple[str, Observation]:
        kwargs.pop("run_manager", None)
        obs = io_loop().run(self.observe(**kwargs))
        return render_for_model(obs), obs
