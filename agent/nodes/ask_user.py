"""Ask the person the clarifying question, through LangGraph's ``interrupt()``.

The graph pauses with ``{"kind": "clarify", "question", "why"}``. Resume with
``Command(resume="the answer")`` or ``Command(resume={"answer": "..."})``; the
answer is appended to the task, so the planner (and every later prompt) sees it.
An empty answer leaves the task as it was.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agent.state import ResearchState

__all__ = ["ask_user", "task_with_answer"]


def task_with_answer(task: str, question: str, answer: str) -> str:
    """The task as the planner sees it once the person has answered."""
    return f"{task}\n\n(Asked: {question} Answer: {answer})"


def _answer_of(raw: Any) -> str:
    if isinstance(raw, dict):
        raw = raw.get("answer", "")
    return raw.strip() if isinstance(raw, str) else ""


def ask_user(state: ResearchState) -> dict[str, Any]:
    question = state.get("clarify_question") or ""
    if not question:
        return {}
    raw = interrupt(
        {
            "kind": "clarify",
            "run_id": state.get("run_id", ""),
            "question": question,
            "why": state.get("clarify_why") or "",
        }
    )
    answer = _answer_of(raw)
    update: dict[str, Any] = {"clarify_question": ""}
    if answer:
        update["task"] = task_with_answer(state["task"], question, answer)
    return update
