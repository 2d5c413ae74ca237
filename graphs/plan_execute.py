"""The same reasoning-first loop over any LangChain tools, for tasks that are not research.

The answer summarises what the steps did and found; its claims still cite the
step results they rest on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agent.settings import Settings
from graphs._build import build_graph

__all__ = ["build_plan_execute_graph"]


def build_plan_execute_graph(
    model: BaseChatModel,
    tools: Sequence[BaseTool | Any],
    *,
    checkpointer: Checkpointer = None,
    settings: Settings | None = None,
    fast_model: BaseChatModel | None = None,
    name: str = "ponder_plan_execute",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A compiled plan-and-execute graph over ``tools``."""
    return build_graph(
        model,
        tools,
        purpose="task",
        checkpointer=checkpointer,
        settings=settings,
        name=name,
        fast_model=fast_model,
    )
