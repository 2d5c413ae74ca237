"""Filling a step's input with its dependencies' outputs.

Dependency outputs reach a step through placeholders in its input:

- ``{{s1}}``: step s1's primary value (a search's top URL, a page's text,
  the code runner's stdout);
- ``{{s1.url}}``: a named field of s1's observation;
- ``{{s1 | the release year}}``: a small model call extracts exactly that
  from s1's observation (the LLMCompiler-style "fill by extraction" choice,
  used only when the step asks for it).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from pydantic import JsonValue

from agent.observation import Observation
from agent.plan import PLACEHOLDER
from agent.state import StepRecord

__all__ = ["PlaceholderError", "fill_placeholders"]


class PlaceholderError(ValueError):
    """A placeholder names a step without a result, or a field it lacks."""


async def fill_placeholders(
    value: JsonValue,
    records: Mapping[str, StepRecord],
    extract: Callable[[Observation, str], Awaitable[str]],
) -> JsonValue:
    """``value`` with every placeholder replaced by its dependency's output."""
    if isinstance(value, dict):
        return {k: await fill_placeholders(v, records, extract) for k, v in value.items()}
    if isinstance(value, list):
        return [await fill_placeholders(v, records, extract) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    parts: list[str] = []
    last = 0
    for m in PLACEHOLDER.finditer(value):
        parts.append(value[last : m.start()])
        parts.append(await _resolve(m, records, extract))
        last = m.end()
    parts.append(value[last:])
    return "".join(parts)


async def _resolve(
    m: re.Match[str],
    records: Mapping[str, StepRecord],
    extract: Callable[[Observation, str], Awaitable[str]],
) -> str:
    ref, field, instruction = m.group(1), m.group(2), (m.group(3) or "").strip()
    record = records.get(ref)
    if record is None or not record.ok:
        raise PlaceholderError(f"{m.group(0)} refers to step {ref}, which has no result")
    obs = record.observation
    if instruction:
        return await extract(obs, instruction)
    if field:
        if field not in obs.fields:
            known = ", ".join(sorted(obs.fields)) or "none"
            raise PlaceholderError(f"step {ref} has no field {field!r} (fields: {known})")
        return obs.fields[field]
    return obs.value or obs.content
