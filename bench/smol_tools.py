"""The same simulated tools as smolagents `Tool`s (sync; smolagents runs them in threads)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool
from smolagents import Tool  # type: ignore[import-untyped]

from agent.observation import fence
from bench.simtools import TOOL_SPECS, ToolSpec, real_tool
from bench.world import World

__all__ = ["make_smol_tools"]


class _SimSmolTool(Tool):  # type: ignore[misc]
    skip_forward_signature_validation = True
    output_type = "string"

    def __init__(self, spec: ToolSpec, world: World) -> None:
        self.name = spec.name
        self.description = spec.description
        props = spec.args.model_json_schema()["properties"]
        self.inputs = {
            k: {"type": "string", "description": v.get("description", k)} for k, v in props.items()
        }
        self.spec, self.world = spec, world
        super().__init__()

    def forward(self, **kwargs: Any) -> str:
        # The text LangChain's agent would read from the same call.
        return fence(self.spec.run_sync(self.world, str(kwargs[self.spec.arg])))


class _RealSmolTool(Tool):  # type: ignore[misc]
    """One of Ponder's real tools, called through its sync path (Ponder's I/O loop)."""

    skip_forward_signature_validation = True
    output_type = "string"

    def __init__(self, tool: BaseTool, arg: str) -> None:
        self.name, self.description = tool.name, tool.description
        self.inputs = {arg: {"type": "string", "description": arg}}
        self.tool, self.arg = tool, arg
        super().__init__()

    def forward(self, **kwargs: Any) -> str:
        content, _observation = self.tool._run(**{self.arg: kwargs[self.arg]})
        return str(content)


def make_smol_tools(world: World, names: list[str], *, real: bool = False) -> list[Tool]:
    if not real:
        return [_SimSmolTool(TOOL_SPECS[n], world) for n in names]
    args = {"fetch_url": "url", "python": "code"}
    return [
        _RealSmolTool(real_tool(world, n), args[n])
        if n in args
        else _SimSmolTool(TOOL_SPECS[n], world)
        for n in names
    ]
