"""Triage: decide how much thinking a task deserves, before any model call if possible.

Trivial tasks (greetings, bare arithmetic, "say X") are recognised by rule
and answered with exactly one model call, no plan. Everything else goes to the
planner, whose single call also carries the model's triage judgement (mode and
depth) when ``effort`` is ``auto``: folding triage into planning saves a model
call on every non-trivial task.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agent.budget import BudgetExhausted, BudgetGate
from agent.errors import ConfigError
from agent.events import TriageEvent, emit
from agent.models.structured import call_text
from agent.nodes._deps import NodeDeps
from agent.plan import TriageDecision
from agent.prompts import render_prompt
from agent.run_end import answered, started
from agent.state import Answer, ResearchState, RunStatus

__all__ = ["rules_triage", "triage"]

_TRIVIAL = [
    (
        re.compile(
            r"^(hi|hello|hey|yo|thanks|thank you|good (morning|afternoon|evening))\b[\s\W]*$", re.I
        ),
        "a greeting",
    ),
    (re.compile(r"^(please\s+)?say\s+\S.{0,60}$", re.I), "a request to say something"),
    (
        re.compile(
            r"^(what\s+is|what's|whats|compute|calculate)?\s*[-+*/×÷^%().\d\s]*\d[-+*/×÷^%().\d\s]*[=?]?\s*$",
            re.I,
        ),
        "bare arithmetic",
    ),
]


_EMPTY_REPLY = "That reply was empty. Answer the task in plain text."


def rules_triage(task: str) -> str | None:
    """Why the task is trivial, or None when it needs the model's judgement."""
    text = task.strip()
    for pattern, why in _TRIVIAL:
        if pattern.match(text):
            return why
    return None


def run_id_for(config: RunnableConfig) -> str:
    thread = (config.get("configurable") or {}).get("thread_id")
    return str(thread) if thread else uuid.uuid4().hex[:12]


async def triage(
    state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, deps: NodeDeps
) -> dict[str, Any]:
    task = (state.get("task") or "").strip()
    if not task:
        raise ConfigError("the task is empty", hint="pass the question to research as `task`")
    settings = deps.settings_for(runtime)
    run_id = state.get("run_id") or run_id_for(config)
    update: dict[str, Any] = {"run_id": run_id, "task": task, "settings": settings, **started()}
    why = rules_triage(task)
    if why is None:
        if settings.effort != "auto":
            update["triage"] = TriageDecision(
                mode="research",
                depth=settings.effort,
                reason=f"effort is set to {settings.effort}",
                decided_by="effort",
            )
        return update

    decision = TriageDecision(
        mode="direct", depth="low", reason=f"{why}: no research needed", decided_by="rules"
    )
    emit(runtime.stream_writer, TriageEvent.of(run_id, decision))
    gate = BudgetGate(state, settings.budgets, node="triage")
    messages = render_prompt("direct", task=task)
    model = deps.fast_model_for(runtime)  # a trivial task is the fast model's
    status: RunStatus
    try:
        text = await call_text(model, messages, gate=gate, config=config)
        if not text:  # an empty reply is bad output: ask again once, saying so
            retry = [*messages, AIMessage(content=""), HumanMessage(content=_EMPTY_REPLY)]
            text = await call_text(model, retry, gate=gate, config=config)
        status, stop = ("done", "answered directly") if text else ("failed", "the reply was empty")
    except BudgetExhausted as exc:
        text, status, stop = "", "budget_exhausted", str(exc)
    answer = Answer(markdown=text or f"(no answer: {stop})")
    return {
        **update,
        "triage": decision,
        **answered(runtime.stream_writer, run_id, answer, status, stop),
        "usage": gate.usage_update(),
    }
