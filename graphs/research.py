"""The research graph: triage → plan → parallel steps → reflection → cited answer.

Input: ``{"task": str}``. Output: ``{"answer": Answer, "status": RunStatus,
"stop_reason": str, "usage": Usage}``. Per-run settings go through LangGraph's
runtime context: ``graph.invoke({"task": ...}, context=RunContext(settings=...))``.
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

__all__ = ["build_research_graph"]


def build_research_graph(
    model: BaseChatModel,
    tools: Sequence[BaseTool | Any],
    *,
    checkpointer: Checkpointer = None,
    settings: Settings | None = None,
    fast_model: BaseChatModel | None = None,
    name: str = "ponder_research",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A compiled graph that researches a task with ``tools`` and answers with citations."""
    return build_graph(
        model,
        tools,
        purpose="research",
        checkpointer=checkpointer,
        settings=settings,
        name=name,
        fast_model=fast_model,
    )
