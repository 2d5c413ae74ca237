"""Ponder: reasoning-first research agents on LangGraph.

The names below are the public API; they load lazily so ``ponder --help``
stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.errors import AgentRunError, PonderError, UserError
    from agent.events import Event, parse_event
    from agent.models.resolve import resolve_model
    from agent.observation import Observation, Passage
    from agent.settings import Budgets, RunContext, Settings
    from agent.state import Answer, Citation

__all__ = [
    "AgentRunError",
    "Answer",
    "Budgets",
    "Citation",
    "Event",
    "Observation",
    "Passage",
    "PonderError",
    "RunContext",
    "Settings",
    "UserError",
    "__version__",
    "parse_event",
    "resolve_model",
]

__version__ = "0.1.0"

_HOMES = {
    "AgentRunError": "agent.errors",
    "PonderError": "agent.errors",
    "UserError": "agent.errors",
    "Event": "agent.events",
    "parse_event": "agent.events",
    "resolve_model": "agent.models.resolve",
    "Observation": "agent.observation",
    "Passage": "agent.observation",
    "Budgets": "agent.settings",
    "RunContext": "agent.settings",
    "Settings": "agent.settings",
    "Answer": "agent.state",
    "Citation": "agent.state",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
