"""A GBNF grammar for a compact plan (`agent.compact_plan`), as a JSON string's body.

Under llama.cpp every sampled token must keep the reply valid, so a small
model cannot write a line that does not parse: each line's id is fixed (s1,
s2, … in order), its tool is one of the toolset's, its arguments are that
tool's own (required ones in order, then optional ones; text, numbers, flags,
enums and lists by their JSON-schema types), a placeholder or ``for``/``after``
may name only an earlier step (so the plan is a DAG by construction), and the
goal is short. The text sits inside a JSON string, so it never holds a double
quote, a backslash or a control character; lines are joined by JSON's ``\\n``.

Rules are prefixed ``cp-`` so they can join the grammar of the JSON envelope
(`agent.models._grammar` splices them in at the ``x-gbnf`` node).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent.fan_out import ITEM_FIELDS
from agent.toolset import Toolset

__all__ = ["GBNF_KEY", "compact_plan_gbnf"]

GBNF_KEY = "x-gbnf"
"""A schema node with this key is a string whose body follows the given grammar."""

_GOAL_CHARS = 80
_MAX_AFTER = 5
_SAFE = r"[^'\"\\\x00-\x1F{]"


def compact_plan_gbnf(
    toolset: Toolset, *, first: int, known: Sequence[str], count: int
) -> dict[str, str]:
    """``{"expression": ..., "rules": ...}``: the body of a plan of ``count`` lines.

    ``first`` numbers the new steps; ``known`` are finished steps they may use.
    """
    rules = [
        f'cp-safe ::= {_SAFE} | "{{" [^{{\'"\\\\\\x00-\\x1F]',
        f'cp-goal ::= [^"\\\\\\x00-\\x1F=(){{}}#\\[\\]]{{1,{_GOAL_CHARS}}}',
        'cp-int ::= "-"? [0-9]{1,9}',
        'cp-num ::= "-"? [0-9]{1,9} ("." [0-9]{1,6})?',
        'cp-bool ::= "True" | "False"',
        'cp-item ::= "{{item" ("." (' + " | ".join(f'"{f}"' for f in ITEM_FIELDS) + '))? "}}"',
    ]
    lines = []
    for i in range(count):
        prior = [*known, *(f"s{first + j}" for j in range(i))]
        lines.append(f"cp-line-{i}")
        rules.extend(_position_rules(toolset, i, f"s{first + i}", prior))
    body = ' "\\\\n" '.join(lines)
    rules.append(f"cp-plan ::= {body}")
    return {"expression": '"\\"" cp-plan "\\""', "rules": "\n".join(rules)}


def _position_rules(toolset: Toolset, i: int, sid: str, prior: list[str]) -> list[str]:
    """The line at position ``i``: a plain call, or (with earlier steps) a fan-out call.

    In a plain call text may hold placeholders to earlier steps but no
    ``{{item}}``; a fan-out call's first text argument is the item itself and
    ``for`` names the list, so a fan-out that never uses its item cannot be written.
    """
    rules = []
    refs, bare = "", ""
    if prior:
        rules.append(f"cp-prior-{i} ::= " + " | ".join(f'"{p}"' for p in prior))
        rules.append(
            f'cp-ref-{i} ::= "{{{{" cp-prior-{i} ("." [a-z_]{{1,20}})? '
            f'(" | " [^}}"\\\\\\x00-\\x1F]{{1,60}})? "}}}}"'
        )
        refs = f" | cp-ref-{i}"
        bare = f' | "{{{{" cp-prior-{i} ("." [a-z_]{{1,20}})? "}}}}"'
    rules.append(f'cp-str-{i} ::= "\'" (cp-safe{refs})* "\'"{bare}')
    plain, fan = [], []
    for k, name in enumerate(toolset.names):
        params = toolset.parameters(name)
        rules.append(f'cp-call-{i}-{k} ::= "{name}(" {_arguments(params, f"cp-str-{i}")} ")"')
        plain.append(f"cp-call-{i}-{k}")
        fan_args = _arguments(params, f"cp-istr-{i}", item_first=True) if prior else None
        if fan_args is not None:
            rules.append(f'cp-fan-{i}-{k} ::= "{name}(" {fan_args} ")"')
            fan.append(f"cp-fan-{i}-{k}")
    if not prior:
        rules.append(f'cp-line-{i} ::= "{sid} = " ({" | ".join(plain)}) " # " cp-goal')
        return rules
    rules.append(f'cp-istr-{i} ::= "\'" (cp-safe{refs} | cp-item)* "\'"{bare} | cp-item')
    after = f'(" after " cp-prior-{i} ("," cp-prior-{i}){{0,{_MAX_AFTER - 1}}})?'
    source = f'cp-prior-{i} "." ("results" | "links") "[" [0-9]? ":" [0-9] [0-9]? "]"'
    calls = f"({' | '.join(plain)}) {after}"
    if fan:
        calls = f'({calls} | ({" | ".join(fan)}) " for " {source} {after})'
    rules.append(f'cp-line-{i} ::= "{sid} = " {calls} " # " cp-goal')
    return rules


def _arguments(params: Mapping[str, Any], text: str, *, item_first: bool = False) -> str | None:
    """Keyword arguments: required ones in order, then each optional one, or none.

    With ``item_first`` the first required text argument is ``{{item…}}``; None if
    the tool has no required text argument to put it in.
    """
    props: Mapping[str, Any] = params.get("properties", {})
    required = [p for p in props if p in set(params.get("required", []))]
    optional = [p for p in props if p not in required]
    item_arg = next((p for p in required if props[p].get("type") == "string"), None)
    if item_first and (item_arg is None or "enum" in props[item_arg]):
        return None

    def arg(name: str) -> str:
        value = "cp-item" if item_first and name == item_arg else _value(props[name], text)
        return f'"{name}=" {value}'

    if required:
        parts = [arg(required[0]), *(f'", " {arg(n)}' for n in required[1:])]
        parts += [f'(", " {arg(n)})?' for n in optional]
        return " ".join(parts)
    if not optional:
        return '""'
    return "(" + " | ".join(arg(n) for n in optional) + ")?"


def _value(spec: Mapping[str, Any], text: str) -> str:
    enum = spec.get("enum")
    if isinstance(enum, list) and enum and all(_plain(v) for v in enum):
        return (
            "(" + " | ".join(f"\"'{v}'\"" if isinstance(v, str) else f'"{v}"' for v in enum) + ")"
        )
    any_of = spec.get("anyOf")
    if isinstance(any_of, list) and any_of:  # e.g. `str | None`: only what each branch allows
        options = ['"None"' if sub.get("type") == "null" else _value(sub, text) for sub in any_of]
        return "(" + " | ".join(dict.fromkeys(options)) + ")"
    kind = spec.get("type")
    if kind == "string":
        return text
    if kind == "integer":
        return "cp-int"
    if kind == "number":
        return "cp-num"
    if kind == "boolean":
        return "cp-bool"
    if kind == "array":
        item = _value(spec.get("items") or {}, text)
        return f'"[" ({item} (", " {item}){{0,19}})? "]"'
    return f'({text} | cp-num | cp-bool | "None")'


def _plain(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    return not re.search(r"['\"\\\x00-\x1f]", str(value))
