"""Fan-out: one plan step mapped over a list an earlier step produced.

A step with ``for_each: "s1.results[:5]"`` is a template. Once s1 is done,
it stands for one child step per item of s1's ``results`` list (ids ``s3.1``,
``s3.2``, …), each with ``{{item.url}}`` (or ``title``, ``snippet``; bare
``{{item}}`` is the URL) filled in its input. The children are derived from
the checkpointed record of s1 alone, so a resumed run expands them the same
way and never redoes a child that has a record. The template itself never runs:
its outcome is its children's, and ``{{s3}}`` in a later step reads all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from agent.observation import ListItem, Observation, Passage
from agent.plan import PlanStep
from agent.state import StepRecord

__all__ = [
    "FOR_EACH",
    "ITEM_FIELDS",
    "ITEM_PLACEHOLDER",
    "MAX_FAN_OUT",
    "Expansion",
    "ForEach",
    "combined_record",
    "expand",
    "parse_for_each",
]

MAX_FAN_OUT = 20
"""Children one step may have: the slice end a plan may ask for."""

FOR_EACH = re.compile(
    r"^(s[0-9]{1,3})\.([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]{0,2}):([0-9]{1,2})\])?$"
)
ITEM_FIELDS = ("url", "title", "snippet")
ITEM_PLACEHOLDER = re.compile(r"\{\{\s*item(?:\.([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}")


@dataclass(frozen=True)
class ForEach:
    """A parsed ``for_each``: which step's which list, and the slice taken of it."""

    source: str
    list_name: str
    start: int
    stop: int


def parse_for_each(text: str) -> ForEach | str:
    """The parsed construct, or what is wrong with it, phrased for the planner."""
    m = FOR_EACH.match(text.strip())
    if m is None:
        return f"for_each {text!r} is not of the form 'sN.list[:K]', e.g. 's1.results[:5]'"
    start = int(m.group(3) or 0)
    stop = int(m.group(4)) if m.group(4) is not None else MAX_FAN_OUT
    if stop > MAX_FAN_OUT:
        return f"for_each {text!r} asks for {stop} items; at most {MAX_FAN_OUT} are allowed"
    if start >= stop:
        return f"for_each {text!r} selects no items; the slice start must be below its end"
    return ForEach(m.group(1), m.group(2), start, stop)


@dataclass(frozen=True)
class Expansion:
    """A template's children, or why it has none (``problem``)."""

    children: tuple[PlanStep, ...] = ()
    problem: str = ""


def _fill_item(value: JsonValue, item: ListItem) -> JsonValue:
    if isinstance(value, dict):
        return {k: _fill_item(v, item) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_item(v, item) for v in value]
    if isinstance(value, str):
        return ITEM_PLACEHOLDER.sub(lambda m: getattr(item, m.group(1) or "url"), value)
    return value


def expand(step: PlanStep, records: Mapping[str, StepRecord]) -> Expansion | None:
    """``step``'s children once its source is done; None while the source is not."""
    if step.for_each is None:
        return None
    spec = parse_for_each(step.for_each)
    if isinstance(spec, str):
        return Expansion(problem=spec)
    source = records.get(spec.source)
    if source is None or not source.ok:
        return None
    try:
        items = source.observation.items(spec.list_name)[spec.start : spec.stop]
    except KeyError as exc:
        return Expansion(problem=f"for_each {step.for_each}: {exc.args[0]}")
    if not items:
        return Expansion(problem=f"for_each {step.for_each}: the list has no items there")
    children = tuple(
        PlanStep(
            id=f"{step.id}.{n}",
            goal=f"{step.goal} ({item.title or item.url})",
            tool=step.tool,
            input=_fill_item(dict(step.input), item),  # type: ignore[arg-type]
            depends_on=step.depends_on,
            expected=step.expected,
        )
        for n, item in enumerate(items, start=1)
    )
    return Expansion(children=children)


def combined_record(step: PlanStep, children: list[StepRecord]) -> StepRecord:
    """What ``{{s3}}`` reads when s3 fanned out: its successful children, in order."""
    done = [c for c in children if c.ok]
    passages: tuple[Passage, ...] = tuple(p for c in done for p in c.observation.passages)
    documents = {k: v for c in done for k, v in c.observation.documents.items()}
    lists: dict[str, tuple[ListItem, ...]] = {}
    for c in done:
        for name, items in c.observation.lists.items():
            lists[name] = lists.get(name, ()) + items
    obs = Observation(
        tool=step.tool,
        ok=bool(done),
        content="\n\n".join(f"[{c.step_id}]\n{c.observation.content}" for c in done),
        passages=passages,
        documents=documents,
        value="\n\n".join(
            f"[{c.step_id}] {c.observation.value or c.observation.content}" for c in done
        ),
        lists=lists,
        untrusted=any(c.observation.untrusted for c in done),
        via="fan-out",
    )
    return StepRecord(
        step_id=step.id,
        plan_version=max((c.plan_version for c in children), default=1),
        tool=step.tool,
        input=step.input,
        status="done" if done else "failed",
        observation=obs,
        started_at=min((c.started_at for c in children), default=0.0),
        finished_at=max((c.finished_at for c in children), default=0.0),
    )
