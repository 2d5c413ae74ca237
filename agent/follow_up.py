"""A follow-up question to a finished run, answered with the evidence that run gathered.

The earlier run's successful step records become finished steps of the new run
(renumbered from ``s101``, so they never collide with the new plan's ``s1``...),
and the task the planner sees lists them, so the plan fetches only what is new.
The synthesizer gathers evidence from every finished step, so the answer cites
old and new sources alike, and the citation check verifies both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agent.errors import ConfigError
from agent.state import Answer, StepRecord

__all__ = ["FIRST_EARLIER_ID", "follow_up_input"]

FIRST_EARLIER_ID = 101
_MAX_EARLIER = 899  # step ids have at most three digits: s101 ... s999


def _earlier_records(steps: Mapping[str, StepRecord]) -> dict[str, StepRecord]:
    ok = sorted((r for r in steps.values() if r.ok), key=lambda r: (r.plan_version, r.step_id))
    return {
        f"s{FIRST_EARLIER_ID + i}": r.model_copy(
            update={"step_id": f"s{FIRST_EARLIER_ID + i}", "plan_version": 0}
        )
        for i, r in enumerate(ok[:_MAX_EARLIER])
    }


def follow_up_input(question: str, earlier: Mapping[str, Any]) -> dict[str, Any]:
    """The graph input for ``question``, seeded with an earlier run's state values."""
    question = question.strip()
    if not question:
        raise ConfigError("the follow-up question is empty", hint='ponder ask RUN_ID "question"')
    records = _earlier_records(earlier.get("steps") or {})
    if not records:
        raise ConfigError(
            "that run gathered no evidence to follow up on",
            hint="start a new run with `ponder run` instead",
        )
    answer = earlier.get("answer")
    said = answer.markdown.strip()[:1500] if isinstance(answer, Answer) else "(no answer)"
    gathered = "\n".join(
        f"- {sid} {r.tool} {json.dumps(r.input, ensure_ascii=False)}" for sid, r in records.items()
    )
    task = (
        f"{question}\n\n"
        f"(A follow-up to the earlier question: {earlier.get('task', '').strip()}\n"
        f"Earlier answer: {said}\n"
        "Evidence already gathered, finished and citable: do not fetch it again; "
        f"plan only steps for what is new:\n{gathered})"
    )
    return {"task": task, "steps": records}
