"""What every node is built with: the model, the tools and the default settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime

from agent.settings import RunContext, Settings
from agent.state import ResearchState
from agent.toolset import Toolset

__all__ = ["NodeDeps"]


@dataclass(frozen=True)
class NodeDeps:
    model: BaseChatModel
    toolset: Toolset
    settings: Settings
    purpose: Literal["research", "task"] = "research"

    def settings_of(self, state: ResearchState, runtime: Runtime[Any]) -> Settings:
        """The run's settings, fixed by triage when the run started (so resumes agree)."""
        return state.get("settings") or self.settings_for(runtime)

    def settings_for(self, runtime: Runtime[Any]) -> Settings:
        """Per-run settings from the runtime context win over the graph's defaults."""
        context = runtime.context
        if isinstance(context, RunContext) and context.settings is not None:
            return context.settings
        if isinstance(context, dict) and context.get("settings") is not None:
            return Settings.model_validate(context["settings"])
        return self.settings
