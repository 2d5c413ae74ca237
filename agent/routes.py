"""The graph's routers: named pure functions of the state, one per decision point."""

from __future__ import annotations

from typing import Literal

from agent.progress import failed_unjudged, plan_finished, unjudged_successes
from agent.run_end import stopped
from agent.state import ResearchState

__all__ = [
    "route_after_approval",
    "route_after_clarify",
    "route_after_execute",
    "route_after_plan",
    "route_after_reflect",
    "route_after_report",
    "route_after_triage",
    "writer",
]

END: Literal["__end__"] = "__end__"


def _reflect_on_successes(state: ResearchState) -> bool:
    settings = state.get("settings")
    triage = state.get("triage")
    if settings is None:
        return False
    depth = settings.depth(triage.depth if triage else None)
    return depth.reflect_every_step and bool(unjudged_successes(state))


def writer(state: ResearchState) -> Literal["synthesize", "write_report"]:
    """Who writes the answer: the report writer for a long report, unless a node ended the
    run early (the synthesizer then answers from the evidence without the model)."""
    settings = state.get("settings")
    if settings is not None and settings.report == "long" and not stopped(state):
        return "write_report"
    return "synthesize"


def route_after_report(state: ResearchState) -> Literal["synthesize", "__end__"]:
    """The report writer answered, or handed the run to the synthesizer."""
    return END if state.get("answer") is not None else "synthesize"


def route_after_triage(state: ResearchState) -> Literal["clarify", "plan", "__end__"]:
    if state.get("answer") is not None or stopped(state):
        return END
    settings = state.get("settings")
    return "clarify" if settings is not None and settings.clarify else "plan"


def route_after_clarify(state: ResearchState) -> Literal["ask_user", "plan"]:
    return "ask_user" if state.get("clarify_question") else "plan"


def route_after_plan(
    state: ResearchState,
) -> Literal["approve_plan", "execute", "synthesize", "__end__"]:
    if state.get("answer") is not None:
        return END
    if stopped(state):
        return "synthesize"
    settings = state.get("settings")
    if settings is not None and settings.approve_plan:
        return "approve_plan"
    return "execute"


def route_after_approval(state: ResearchState) -> Literal["plan", "execute"]:
    return "plan" if state.get("feedback") else "execute"


def route_after_execute(
    state: ResearchState,
) -> Literal["execute", "reflect", "approve_code", "synthesize", "write_report"]:
    """Reflect at once on a failure (running steps go on meanwhile); else keep executing."""
    if stopped(state):
        return "synthesize"
    if state.get("pending_approval"):
        return "approve_code"
    if failed_unjudged(state):
        return "reflect"
    if plan_finished(state):
        return "reflect" if _reflect_on_successes(state) else writer(state)
    return "execute"


def route_after_reflect(
    state: ResearchState,
) -> Literal["execute", "plan", "synthesize", "write_report"]:
    reflections = state.get("reflections") or []
    if stopped(state) or not reflections:
        return "synthesize"
    decision = reflections[-1].decision
    if decision == "replan":
        return "plan"
    if decision == "finish":
        return writer(state)
    return writer(state) if plan_finished(state) and not failed_unjudged(state) else "execute"
