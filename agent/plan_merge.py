"""Merging duplicate steps: one plan never runs the same tool on the same input twice.

Small models often plan the same call several times (four identical
``read_document`` steps). A step whose tool and input equal an earlier step's
is dropped; every step that depended on it (in ``depends_on`` or through a
``{{sN}}`` placeholder) is re-pointed to the step kept. Steps are compared in
dependency order after re-pointing, so duplicates that differ only in which
duplicate they read from merge too. Finished or carried steps are never
dropped, but a new step equal to one of them merges into it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from graphlib import TopologicalSorter

from pydantic import JsonValue

from agent.plan import PLACEHOLDER, PlanStep, placeholder_refs

__all__ = ["merge_duplicates", "merged_text", "step_signature"]


def step_signature(tool: str, args: Mapping[str, JsonValue]) -> str:
    """What makes two steps the same work: the tool and its exact input."""
    return json.dumps([tool, args], sort_keys=True, default=str)


def merge_duplicates(
    steps: tuple[PlanStep, ...], *, fixed: frozenset[str] = frozenset()
) -> tuple[tuple[PlanStep, ...], dict[str, str]]:
    """The plan without duplicate steps, and which step each dropped one merged into."""
    merged: dict[str, str] = {}
    seen: dict[str, str] = {}
    kept_steps: dict[str, PlanStep] = {}
    for step in _in_dependency_order(steps, fixed):
        if step.id not in fixed:
            step = _repointed(step, merged)
        sig = step_signature(step.tool, step.input)
        if sig in seen and step.id not in fixed:
            merged[step.id] = seen[sig]
            continue
        seen.setdefault(sig, step.id)
        kept_steps[step.id] = step
    if not merged:
        return steps, {}
    return tuple(kept_steps[s.id] for s in steps if s.id in kept_steps), merged


def _in_dependency_order(steps: tuple[PlanStep, ...], fixed: frozenset[str]) -> list[PlanStep]:
    """Fixed steps first, then every step after its dependencies, else in plan order.

    So a step is compared only once the steps it reads from are final, and of
    two equal steps the one the plan wrote first (or the finished one) is kept.
    """
    by_id = {s.id: s for s in steps}
    rank = {s.id: (s.id not in fixed, i) for i, s in enumerate(steps)}
    sorter = TopologicalSorter({s.id: [d for d in s.depends_on if d in by_id] for s in steps})
    sorter.prepare()
    ready: list[str] = []
    order: list[PlanStep] = []
    while sorter.is_active():
        ready = sorted({*ready, *sorter.get_ready()}, key=rank.__getitem__)
        sid = ready.pop(0)
        order.append(by_id[sid])
        sorter.done(sid)
    return order


def merged_text(merged: Mapping[str, str]) -> str:
    """``merged duplicate steps: s3 into s1, s4 into s1`` (empty when none were)."""
    if not merged:
        return ""
    pairs = ", ".join(f"{dropped} into {kept}" for dropped, kept in merged.items())
    return f"merged duplicate steps: {pairs}"


def _repointed(step: PlanStep, merged: Mapping[str, str]) -> PlanStep:
    refs = {ref for ref, _, _ in placeholder_refs(step.input)}
    if not (set(step.depends_on) | refs) & set(merged):
        return step
    deps = tuple(dict.fromkeys(merged.get(d, d) for d in step.depends_on))
    return step.model_copy(
        update={"depends_on": deps, "input": _rename(step.input, merged)}  # type: ignore[dict-item]
    )


def _rename(value: JsonValue, merged: Mapping[str, str]) -> JsonValue:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: _renamed(m, merged), value)
    if isinstance(value, dict):
        return {k: _rename(v, merged) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, merged) for v in value]
    return value


def _renamed(m: re.Match[str], merged: Mapping[str, str]) -> str:
    ref = m.group(1)
    start, end = m.span(1)
    whole = m.group(0)
    offset = m.start()
    return whole[: start - offset] + merged.get(ref, ref) + whole[end - offset :]
