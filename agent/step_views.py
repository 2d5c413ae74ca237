"""How a run's plan and evidence are shown to the model (tool output always fenced)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from agent.observation import Observation, Passage, fence, fence_text
from agent.plan import Plan
from agent.progress import current_plan, step_state
from agent.state import ResearchState, StepRecord

__all__ = [
    "MAX_SOURCES",
    "EvidenceItem",
    "evidence_digest",
    "gather_evidence",
    "plan_digest",
    "record_digest",
]

_WORD = re.compile(r"[a-z0-9]{3,}")
_MIN_SHARE = 300
_MAX_SHOWN = 800
MAX_SOURCES = 50
"""Distinct sources the writer reads at most (notes make about this many fit)."""


def record_digest(record: StepRecord, *, limit: int = 600) -> str:
    obs = record.observation
    if not obs.ok and obs.error is not None:
        return f"error ({obs.error.kind}): {obs.error.message[:limit]}"
    text = obs.content.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")


def plan_digest(state: ResearchState, plan: Plan | None) -> str:
    """The plan with each step's state and a short result, one line a step."""
    if plan is None:
        return "(no plan)"
    records = state.get("steps") or {}
    lines = []
    for step in plan.steps:
        status = step_state(state, step.id)
        deps = f" after {', '.join(step.depends_on)}" if step.depends_on else ""
        lines.append(
            f"{step.id} [{status}] {step.tool} {json.dumps(step.input, ensure_ascii=False)}"
            f"{deps} — {step.goal}"
        )
        record = records.get(step.id)
        if record is not None:
            result = record_digest(record, limit=300)
            obs = record.observation
            if obs.untrusted:  # a page's first words are data here too, never instructions
                result = fence_text(result, obs.passages[0].ref if obs.passages else obs.tool)
            lines.append(f"    result: {result}")
    return "\n".join(lines)


def evidence_digest(state: ResearchState, *, limit: int) -> str:
    """Finished steps' observations, fenced, within ``limit`` characters in all."""
    records = [r for r in (state.get("steps") or {}).values() if r.status != "skipped"]
    if not records:
        return "(nothing gathered yet)"
    share = max(200, limit // len(records))
    return "\n\n".join(
        f"[{r.step_id}] {r.tool} → {'ok' if r.ok else 'failed'}\n"
        f"{fence(r.observation, limit=share)}"
        for r in records
    )


@dataclass(frozen=True)
class EvidenceItem:
    """A passage the synthesizer may cite, under a stable id like ``s2.1``."""

    id: str
    passage: Passage
    record: StepRecord
    shown: int = 800  # characters of the passage the model is shown
    goal: str = ""  # the plan step's goal: what a bare tool output is an answer to
    note: str = ""  # a note's fact; the passage is then the note's exact span

    @property
    def size(self) -> int:
        """Characters this item takes of the writer's evidence budget."""
        return min(len(self.passage.text), self.shown) + len(self.note)

    def source_text(self) -> str:
        return (
            self.record.observation.source_text(self.passage.ref) or self.record.observation.content
        )


def _passages(obs: Observation, step_id: str) -> tuple[Passage, ...]:
    if obs.passages:
        return obs.passages
    text = obs.content.strip()
    if not text:
        return ()
    return (
        Passage(
            ref=f"step:{step_id}",
            title=obs.tool,
            text=text[:1500],
            start=0,
            end=min(len(text), 1500),
            kind="output",
        ),
    )


def _items(record: StepRecord, goal: str) -> list[EvidenceItem]:
    """A step's citable items: its notes when it has any, else its passages."""
    obs = record.observation
    if record.notes:
        titles = {p.ref: p.title for p in obs.passages}
        return [
            EvidenceItem(
                f"{record.step_id}.{i}",
                Passage(
                    ref=n.source,
                    title=titles.get(n.source, ""),
                    text=n.span,
                    start=n.start,
                    end=n.end,
                ),
                record,
                goal=goal,
                note=n.fact,
            )
            for i, n in enumerate(record.notes, start=1)
        ]
    return [
        EvidenceItem(f"{record.step_id}.{i}", p, record, goal=goal)
        for i, p in enumerate(_passages(obs, record.step_id), start=1)
    ]


def _step_order(state: ResearchState) -> list[StepRecord]:
    """Successful steps, leaves of the plan first: they hold what the chain found last."""
    records = [r for r in (state.get("steps") or {}).values() if r.ok]
    plan = current_plan(state)
    needed = {d for s in (plan.steps if plan else ()) for d in s.depends_on}
    return sorted(
        records,
        key=lambda r: (
            r.step_id.split(".")[0] in needed,
            tuple(int(n) for n in r.step_id[1:].split(".")),
        ),
    )


def gather_evidence(state: ResearchState, *, task: str, limit_chars: int) -> list[EvidenceItem]:
    """The most relevant passages (or notes) of every successful step, fairly shared.

    Every step gets its best passage, however many steps there are (a chain's
    answer may sit in any of them); further passages are added round by round
    while they fit in ``limit_chars``, which grows with the number of steps. A
    step with notes offers its notes instead of its raw text. At most
    `MAX_SOURCES` distinct sources are shown.
    """
    terms = set(_WORD.findall(task.lower()))
    plan = current_plan(state)
    goals = {step.id: step.goal for step in plan.steps} if plan else {}
    per_step: list[list[EvidenceItem]] = []
    for record in _step_order(state):
        goal_terms = terms | set(_WORD.findall(repr(record.input).lower()))
        items = _items(record, goals.get(record.step_id, ""))
        items.sort(
            key=lambda it: (
                -len(goal_terms & set(_WORD.findall(f"{it.note} {it.passage.text}".lower())))
            )
        )
        per_step.append(items)
    if not per_step:
        return []
    limit = max(limit_chars, _MIN_SHARE * len(per_step))
    width = max(_MIN_SHARE, min(_MAX_SHOWN, limit // len(per_step)))
    chosen: list[EvidenceItem] = []
    seen: set[tuple[str, str]] = set()  # steps that fetched the same passage share it
    sources: set[str] = set()
    used = 0
    rank = 0
    while any(rank < len(items) for items in per_step):
        for items in per_step:
            if rank >= len(items):
                continue
            item = items[rank]
            key = (item.passage.ref, item.passage.text)
            if key in seen:
                continue
            if item.passage.ref not in sources and len(sources) >= MAX_SOURCES:
                continue
            item = replace(item, shown=width)
            if rank > 0 and used + item.size > limit:
                return chosen
            seen.add(key)
            sources.add(item.passage.ref)
            chosen.append(item)
            used += item.size
        rank += 1
    return chosen
