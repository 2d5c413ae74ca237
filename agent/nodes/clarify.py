"""Clarify: before planning, let the model judge whether the task needs one question.

Only the judgement lives here (one model call); asking the person is the next
node's ``interrupt``, so resuming with the answer does not repeat this call.
Runs only when ``Settings.clarify`` is on (``--clarify``); batch runs keep it off.
"""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import Field

from agent.budget import BudgetExhausted
from agent.models.structured import ReplySchema, call_structured
from agent.nodes._deps import NodeDeps
from agent.prompts import render_prompt
from agent.state import ResearchState

__all__ = ["ClarifyReply", "clarify"]


class ClarifyReply(ReplySchema):
    """Decide whether the task is too ambiguous to research without asking one question."""

    SCRIPT_KEY: ClassVar[str] = "Clarifying"

    ambiguous: bool
    question: str = Field(default="", description="one short question, only when ambiguous")
    why: str = Field(default="", description="one sentence: what is unclear")


async def clarify(
    state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, deps: NodeDeps
) -> dict[str, Any]:
    ctx = deps.context(state, runtime, config, node="clarify")
    try:
        reply = await call_structured(
            ctx.model,
            render_prompt("clarify", task=state["task"]),
            ClarifyReply,
            gate=ctx.gate,
            retries=ctx.settings.output_retries,
            config=ctx.config,
        )
    except BudgetExhausted:
        # Asking is optional: with no budget for it, the planner decides the run's end.
        return {"clarify_question": "", "usage": ctx.gate.usage_update()}
    value = reply.value
    question = value.question.strip() if value.ambiguous else ""
    return {
        "clarify_question": question,
        "clarify_why": value.why.strip() if question else "",
        "usage": ctx.gate.usage_update(),
    }
