"""What every node is built with (`NodeDeps`) and what one node call works with (`NodeContext`).

A node is a function of (state, runtime); it opens one `NodeContext` and hands
that to its helpers, instead of seven loose parameters (pydantic-ai passes one
``ctx`` to every node the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agent.budget import BudgetGate
from agent.dispatch import StepContext
from agent.events import EventSink
from agent.settings import RunContext, Settings
from agent.state import ResearchState
from agent.toolset import Toolset

__all__ = ["NodeContext", "NodeDeps"]


@dataclass(frozen=True)
class NodeDeps:
    model: BaseChatModel
    toolset: Toolset
    settings: Settings
    purpose: Literal["research", "task"] = "research"
    fast_model: BaseChatModel | None = None  # notes, extraction, triage; None: ``model``

    def fast_model_for(self, runtime: Runtime[Any]) -> BaseChatModel:
        """The run's fast model: the runtime context's, else the graph's, else ``model``."""
        context = runtime.context
        if isinstance(context, RunContext) and context.fast_model is not None:
            return context.fast_model
        return self.fast_model or self.model

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

    def context(
        self, state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, node: str
    ) -> NodeContext:
        """One call of ``node``: its settings read and its budget gate opened once."""
        settings = self.settings_of(state, runtime)
        return NodeContext(
            state=state,
            runtime=runtime,
            config=config,
            deps=self,
            settings=settings,
            gate=BudgetGate(state, settings.budgets, node=node),
        )


@dataclass(frozen=True)
class NodeContext:
    state: ResearchState
    runtime: Runtime[Any]
    config: RunnableConfig
    deps: NodeDeps
    settings: Settings
    gate: BudgetGate

    @property
    def run_id(self) -> str:
        return self.state["run_id"]

    @property
    def sink(self) -> EventSink | None:
        return self.runtime.stream_writer

    @property
    def model(self) -> BaseChatModel:
        return self.deps.model

    @property
    def fast_model(self) -> BaseChatModel:
        return self.deps.fast_model_for(self.runtime)

    @property
    def toolset(self) -> Toolset:
        return self.deps.toolset

    def step_context(self, plan_version: int) -> StepContext:
        """What the steps this call starts for ``plan_version`` run with."""
        return StepContext(
            run_id=self.run_id,
            plan_version=plan_version,
            state=self.state,
            toolset=self.toolset,
            model=self.model,
            settings=self.settings,
            config=self.config,
            sink=self.sink,
            fast_model=self.fast_model,
        )
