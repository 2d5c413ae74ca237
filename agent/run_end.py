"""How a run ends: the one place that writes ``status`` and ``stop_reason``.

Nodes never set either field by hand. Triage marks a run `started`; a node
that hits a budget returns `budget_exhausted`; an answer is released through
`answered`, whose status `final_outcome` decides for the synthesizer:

- ``budget_exhausted``: a budget stopped the run (the answer is a partial one);
- ``unanswered``: the run ended normally but no claim kept a verified citation
  (no step produced evidence, or the check rejected every citation);
- ``done``: a cited answer (or a direct answer that needed no research).

Routers ask `stopped` whether a node already ended the run.
"""

from __future__ import annotations

from typing import Any

from agent.events import AnswerEvent, EventSink, emit
from agent.state import Answer, ResearchState, RunStatus, Usage

__all__ = [
    "WALL_TIME_SPENT",
    "answered",
    "budget_exhausted",
    "final_outcome",
    "started",
    "steps_spent",
    "stopped",
]

WALL_TIME_SPENT = "wall_time budget exhausted"


def steps_spent(max_steps: int) -> str:
    return f"steps budget exhausted ({max_steps} steps)"


def started() -> dict[str, Any]:
    """The update that opens a run."""
    return {"status": "running"}


def stopped(state: ResearchState) -> bool:
    """A node ended the run early: only the answer is left to write."""
    return state.get("status") in ("budget_exhausted", "failed")


def budget_exhausted(reason: str, usage: Usage) -> dict[str, Any]:
    """The update of a node that found a budget spent (the synthesizer answers next)."""
    return {"status": "budget_exhausted", "stop_reason": reason, "usage": usage}


def final_outcome(
    state: ResearchState, answer: Answer, *, budget: str, had_evidence: bool
) -> tuple[RunStatus, str]:
    """The status and reason a synthesized answer ends the run with.

    ``budget`` is why a budget stopped the run ("" when none did).
    """
    if budget:
        return "budget_exhausted", budget
    if not had_evidence:
        return "unanswered", "no step produced usable evidence"
    if not answer.citations:
        return "unanswered", "no claim of the answer kept a verified citation"
    return "done", state.get("stop_reason") or "answered"


def answered(
    sink: EventSink | None, run_id: str, answer: Answer, status: RunStatus, reason: str
) -> dict[str, Any]:
    """Announce the answer and end the run with ``status``."""
    emit(
        sink,
        AnswerEvent(
            run_id=run_id,
            status=status,
            markdown=answer.markdown,
            citations=tuple(c.model_dump(mode="json") for c in answer.citations),
        ),
    )
    return {"answer": answer, "status": status, "stop_reason": reason}
