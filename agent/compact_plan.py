"""Compact plans: one line per step, in the spirit of LLMCompiler.

A JSON plan spends most of its output tokens on keys, quotes and brackets
(about 34 tokens a step); a compact plan writes each step as a call::

    s1 = web_search(query='asyncio gather exceptions') # how gather reports errors
    s2 = fetch_url(url={{s1}}) # read the top result
    s3 = fetch_url(url='{{item.url}}') for s1.results[:3] # read each of the top three
    s4 = python(code='print(1)') after s2,s3 # runs once both are read

The comment is the step's goal. Dependencies follow from the placeholders
(``{{s1}}``; a whole argument may be one, unquoted) and ``for`` (a fan-out
over an earlier step's list), so only a dependency without either is written
out, with ``after``. Arguments are
keyword literals as Python writes them (``'text'``, ``3``, ``True``, ``[..]``;
JSON's ``true``/``null`` are read too). A plan step's ``expected`` has no
compact form.

Parsing goes through Python's own tokenizer and ``ast``, so quoting, escapes
and a ``#`` inside a string behave exactly as in Python. A line that does not
parse is reported by number, with the line, in words the model can act on.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from agent.fan_out import parse_for_each
from agent.plan import STEP_ID, placeholder_refs

__all__ = [
    "CompactPlanError",
    "closed_lines",
    "format_plan",
    "format_step",
    "parse_line",
    "parse_plan",
]

_HEAD = re.compile(r"^\s*(?P<id>[A-Za-z0-9_.]+)\s*=\s*(?P<tool>[A-Za-z_][A-Za-z0-9_.\-]*)\s*\(")
_TAIL = re.compile(
    r"^(?:\s+for\s+(?P<for_each>\S+))?(?:\s+after\s+(?P<after>[A-Za-z0-9_]+(?:\s*,\s*[A-Za-z0-9_]+)*))?\s*$"
)
_STEP_ID = re.compile(STEP_ID)
_BARE = re.compile(r"^\{\{(s[0-9]{1,3}|item)(\.[A-Za-z_][A-Za-z0-9_]*)?\}\}$")
_NAMED = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_SHAPE = "write it as: s2 = tool(name='value') # goal"
_SHOWN = 80


class CompactPlanError(ValueError):
    """A compact plan line that does not parse; the message names the line."""


def closed_lines(text: str) -> list[str]:
    """The lines of a streaming plan that are finished (a newline followed them)."""
    return text.split("\n")[:-1]


def parse_plan(text: str) -> list[dict[str, Any]]:
    """Every step of a compact plan, as the dicts `StepDraft` validates."""
    steps = []
    for number, line in enumerate(text.split("\n"), start=1):
        step = parse_line(line, number)
        if step is not None:
            steps.append(step)
    return steps


def parse_line(line: str, number: int = 1) -> dict[str, Any] | None:
    """One step from one line; None for a blank or comment-only line.

    Raises `CompactPlanError` naming the line and what is wrong with it.
    """
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    try:
        return _parse(line)
    except CompactPlanError as exc:
        shown = line.strip()
        shown = shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
        raise CompactPlanError(f"plan line {number} ({shown!r}): {exc}") from None


def _parse(line: str) -> dict[str, Any]:
    head = _HEAD.match(line)
    if head is None:
        raise CompactPlanError(f"not a step; {_SHAPE}")
    sid = head.group("id")
    if not _STEP_ID.match(sid):
        raise CompactPlanError(f"step id {sid!r} is not s1, s2, ...")
    opened = head.end() - 1
    close, goal = _call_end_and_comment(line, opened)
    if not goal:
        raise CompactPlanError("the step has no goal; end the line with ' # what it finds out'")
    comment_at = line.find("#", close)
    tail = _TAIL.match(line[close + 1 : comment_at if comment_at >= 0 else len(line)])
    if tail is None:
        raise CompactPlanError(
            "after the call only 'for sN.results[:K]' and then 'after sN,sM' may follow"
        )
    after = [a.strip() for a in (tail.group("after") or "").split(",") if a.strip()]
    for dep in after:
        if not _STEP_ID.match(dep):
            raise CompactPlanError(f"'after' names {dep!r}, which is not a step id like s1")
    step: dict[str, Any] = {
        "id": sid,
        "goal": goal,
        "tool": head.group("tool"),
        "input": _arguments(line[opened : close + 1]),
        "depends_on": after,
    }
    if tail.group("for_each"):
        step["for_each"] = tail.group("for_each")
    return step


def _call_end_and_comment(line: str, opened: int) -> tuple[int, str]:
    """Where the call's closing parenthesis is, and the comment's text (the goal)."""
    depth, close, comment = 0, -1, ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line[opened:]).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
                if depth == 0 and close < 0:
                    close = opened + tok.start[1]
            elif tok.type == tokenize.COMMENT and close >= 0:
                comment = tok.string[1:].strip()
            elif tok.type == tokenize.COMMENT:
                break
    except (tokenize.TokenError, SyntaxError) as exc:
        problem = str(exc.args[0]) if exc.args else "cannot be read"
        if close < 0:
            raise CompactPlanError(
                f"the call's arguments do not close ({problem}); check quotes and parentheses"
            ) from None
    if close < 0:
        raise CompactPlanError("the call's parenthesis is never closed")
    return close, comment


def _arguments(call: str) -> dict[str, JsonValue]:
    try:
        tree = ast.parse("f" + call, mode="eval")
    except SyntaxError as exc:
        raise CompactPlanError(f"the arguments are not valid: {exc.msg}") from None
    node = tree.body
    if not isinstance(node, ast.Call):
        raise CompactPlanError(f"not a call; {_SHAPE}")
    if node.args or any(k.arg is None for k in node.keywords):
        raise CompactPlanError("every argument must be named: tool(name='value')")
    source = "f" + call
    return {str(k.arg): _literal(k.value, str(k.arg), source) for k in node.keywords}


def _literal(node: ast.expr, name: str, source: str) -> JsonValue:
    if _bare_placeholder(node):  # url={{s1}}: the placeholder as its text
        return "{{" + (ast.get_source_segment(source, node.elts[0].elts[0]) or "") + "}}"  # type: ignore[attr-defined]
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        return node.value
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    if isinstance(node, ast.Name) and node.id in _NAMED:
        return _NAMED[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand, name, source)
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return -inner
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item, name, source) for item in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, JsonValue] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise CompactPlanError(f"argument {name}: object keys must be quoted text")
            out[key.value] = _literal(value, name, source)
        return out
    raise CompactPlanError(
        f"argument {name} is not a literal; quote text as '...', or use a number, "
        "True/False, [list] or {dict}"
    )


def _bare_placeholder(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Set)
        and len(node.elts) == 1
        and isinstance(node.elts[0], ast.Set)
        and len(node.elts[0].elts) == 1
        and isinstance(node.elts[0].elts[0], ast.Name | ast.Attribute)
    )


def format_plan(steps: Sequence[Mapping[str, Any]]) -> str:
    """The compact text of JSON-shaped steps (the inverse of `parse_plan`)."""
    return "\n".join(format_step(s) for s in steps)


def format_step(step: Mapping[str, Any]) -> str:
    """One step as one line: ``sN = tool(arg='v') [for ...] [after ...] # goal``."""
    args = ", ".join(f"{k}={_format(v)}" for k, v in dict(step.get("input") or {}).items())
    line = f"{step['id']} = {step['tool']}({args})"
    for_each = step.get("for_each")
    implied = {ref for ref, _field, _how in placeholder_refs(dict(step.get("input") or {}))}
    if for_each:
        line += f" for {for_each}"
        spec = parse_for_each(str(for_each))
        if not isinstance(spec, str):
            implied.add(spec.source)
    after = [d for d in step.get("depends_on") or () if d not in implied]
    if after:
        line += f" after {','.join(after)}"
    goal = " ".join(str(step.get("goal") or "").split())
    return f"{line} # {goal}"


def _format(value: Any) -> str:
    if isinstance(value, str) and _BARE.match(value):
        return value
    if isinstance(value, str | bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_format(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {value!r}")
