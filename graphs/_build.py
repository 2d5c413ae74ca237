"""The wiring both prebuilt graphs share: small nodes joined by named routers."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agent._internal.node import io_node
from agent.checkpointing import checkpoint_allowlist
from agent.models.llamacpp import ChatLlamaCpp
from agent.nodes._deps import NodeDeps
from agent.nodes.approve_code import approve_code
from agent.nodes.approve_plan import approve_plan
from agent.nodes.ask_user import ask_user
from agent.nodes.clarify import clarify
from agent.nodes.executor import execute
from agent.nodes.planner import plan
from agent.nodes.reflect import reflect
from agent.nodes.synthesizer import synthesize
from agent.nodes.triage import triage
from agent.nodes.write_report import write_report
from agent.routes import (
    route_after_approval,
    route_after_clarify,
    route_after_execute,
    route_after_plan,
    route_after_reflect,
    route_after_report,
    route_after_triage,
)
from agent.settings import RunContext, Settings
from agent.state import InputState, OutputState, ResearchState
from agent.toolset import Toolset

__all__ = ["build_graph"]


def _lean(model: BaseChatModel) -> BaseChatModel:
    if isinstance(model, ChatLlamaCpp) and model.schema_in_prompt:
        # Ponder's prompts explain every field; a JSON-schema dump on top would
        # make a small local model's prompt several times longer (and slower).
        return model.with_options(schema_in_prompt=False)
    return model


def build_graph(
    model: BaseChatModel,
    tools: Sequence[BaseTool | Any],
    *,
    purpose: Literal["research", "task"],
    checkpointer: Checkpointer = None,
    settings: Settings | None = None,
    name: str,
    fast_model: BaseChatModel | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    settings = settings or Settings()
    model = _lean(model)
    deps = NodeDeps(
        model=model,
        toolset=Toolset(tools),
        settings=settings,
        purpose=purpose,
        fast_model=_lean(fast_model) if fast_model is not None else None,
    )
    g = StateGraph(
        ResearchState, context_schema=RunContext, input_schema=InputState, output_schema=OutputState
    )
    g.add_node("triage", io_node(triage, name="triage", deps=deps))
    g.add_node("clarify", io_node(clarify, name="clarify", deps=deps))
    g.add_node("ask_user", ask_user)
    g.add_node("plan", io_node(plan, name="plan", deps=deps))
    g.add_node("approve_plan", functools.partial(approve_plan, deps=deps))
    g.add_node("approve_code", functools.partial(approve_code, deps=deps))
    g.add_node("execute", io_node(execute, name="execute", deps=deps))
    g.add_node("reflect", io_node(reflect, name="reflect", deps=deps))
    g.add_node("synthesize", io_node(synthesize, name="synthesize", deps=deps))
    g.add_node("write_report", io_node(write_report, name="write_report", deps=deps))
    g.add_edge(START, "triage")
    g.add_conditional_edges("triage", route_after_triage, ["clarify", "plan", END])
    g.add_conditional_edges("clarify", route_after_clarify, ["ask_user", "plan"])
    g.add_edge("ask_user", "plan")
    g.add_conditional_edges(
        "plan", route_after_plan, ["approve_plan", "execute", "synthesize", END]
    )
    g.add_conditional_edges("approve_plan", route_after_approval, ["plan", "execute"])
    g.add_edge("approve_code", "execute")
    g.add_conditional_edges(
        "execute",
        route_after_execute,
        ["execute", "reflect", "approve_code", "synthesize", "write_report"],
    )
    g.add_conditional_edges(
        "reflect", route_after_reflect, ["execute", "plan", "synthesize", "write_report"]
    )
    g.add_conditional_edges("write_report", route_after_report, ["synthesize", END])
    g.add_edge("synthesize", END)
    if isinstance(checkpointer, BaseCheckpointSaver):
        # Register Ponder's state types, so a strict saver accepts them. LangGraph
        # leaves a permissive saver as it is (it warns once per type it revives);
        # `checkpoint_serde()` is the quiet and strict choice.
        checkpointer = checkpointer.with_allowlist(checkpoint_allowlist())
    compiled = g.compile(checkpointer=checkpointer, name=name)
    return compiled.with_config(recursion_limit=settings.recursion_limit())
