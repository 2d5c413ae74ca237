"""Run a Ponder graph to the end and hand back its full state and its events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver

from agent.checkpointing import checkpoint_serde
from agent.events import Event, parse_event
from agent.settings import Budgets, Settings
from agent.state import ResearchState
from graphs.research import build_research_graph


def settings(**budgets: Any) -> Settings:
    extra = {k: budgets.pop(k) for k in list(budgets) if k in Settings.model_fields}
    return Settings(budgets=Budgets(**budgets), **extra)


def run_research(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    task: str = "What are the facts?",
    *,
    config: Settings | None = None,
) -> tuple[ResearchState, list[Event]]:
    graph = build_research_graph(
        model,
        tools,
        checkpointer=InMemorySaver(serde=checkpoint_serde()),
        settings=config or Settings(),
    )
    thread = {"configurable": {"thread_id": uuid.uuid4().hex}}
    events: list[Event] = []
    for chunk in graph.stream({"task": task}, thread, stream_mode="custom"):
        events.append(parse_event(chunk))
    state: ResearchState = graph.get_state(thread).values  # type: ignore[assignment]
    return state, events


def types_of(events: Sequence[Event]) -> list[str]:
    return [e.type for e in events]
