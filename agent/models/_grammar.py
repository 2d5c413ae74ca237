"""JSON schemas turned into GBNF grammars that llama.cpp can enforce faithfully.

llama-cpp-python's converter (``llama_cpp.llama_grammar``) handles local ``$ref``,
``anyOf``/``oneOf``, ``enum``/``const``, ``min/maxItems``, ``min/maxLength``,
tuples and the date/time/uuid formats. Its gaps would make a grammar accept
invalid JSON, reject valid answers or fail to compile, so `prepare_schema` and
`schema_gbnf` close them:

- ``{}`` / ``Any`` compiles to "an object"; we write "any JSON value" instead;
- its string ``char`` rule lets raw control characters through; we exclude them;
- a ``pattern`` must be anchored and its ``.``, ``\\d``, ``\\w``, ``\\s`` would pass
  through unescaped quotes or break the grammar; we rewrite them JSON-safe and
  drop a pattern we cannot rewrite (the model's output is then validated only
  by the caller's parser);
- integer bounds are ignored; a range of at most 256 values becomes an ``enum``.

A string node with an ``x-gbnf`` key (``{"expression", "rules"}``) is decided
by that grammar instead (`agent.compact_grammar`); `prepare_schema` drops the key.

Number bounds, ``not``, ``if``/``then`` and ``uniqueItems`` stay unenforced.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent.errors import ConfigError

__all__ = [
    "json_object_gbnf",
    "prepare_schema",
    "schema_gbnf",
    "tool_call_gbnf",
]

_ANY_VALUE: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array"},
        {"type": "object"},
    ]
}
# Keywords that give a schema node a shape; a node with none of them is "any value".
_SHAPING = frozenset(
    {
        "type",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "properties",
        "additionalProperties",
        "items",
        "prefixItems",
        "pattern",
        "format",
    }
)
_MAX_ENUM_RANGE = 256
# A JSON string character that needs no escaping: no quote, backslash or control char.
_SAFE_CLASS_BODY = '"\\\\\\x00-\\x1F'
_SAFE_CHAR = f"[^{_SAFE_CLASS_BODY}]"
_ESCAPE_CLASSES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " "}
_REF = re.compile(r"^#/(?:\$defs|definitions)/([^/]+)$")
_CUSTOM = "x-gbnf"
_MARK = "@@ponder-gbnf-{}@@"


def prepare_schema(schema: Mapping[str, Any], *, patterns: bool = True) -> dict[str, Any]:
    """A copy of `schema` with local refs inlined and the converter's gaps closed.

    Recursive definitions stay as ``$ref`` into ``$defs`` (the converter handles
    them). Raises `ConfigError` for a ``$ref`` that is not local.
    """
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        found = schema.get(key)
        if isinstance(found, Mapping):
            defs.update(found)
    recursive: set[str] = set()
    inlined = _inline(dict(schema), defs, (), recursive)
    out: dict[str, Any] = _normalize(inlined, patterns)
    kept: dict[str, Any] = {}
    while pending := sorted(recursive - kept.keys()):
        for name in pending:
            kept[name] = _normalize(_inline(defs[name], defs, (name,), recursive), patterns)
    if kept:
        out["$defs"] = kept
    return out


def schema_gbnf(schema: Mapping[str, Any], *, patterns: bool = True) -> str:
    """The GBNF grammar whose sentences are exactly JSON texts valid for `schema`."""
    # Imported here: llama-cpp-python is an optional dependency.
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    spliced: list[Mapping[str, str]] = []
    prepared = prepare_schema(_marked(schema, spliced), patterns=patterns)
    gbnf = _strict_chars(str(json_schema_to_gbnf(json.dumps(prepared))))
    for n, custom in enumerate(spliced):
        literal = json.dumps(json.dumps(_MARK.format(n)))
        if literal not in gbnf:
            raise ConfigError(f"the grammar for a {_CUSTOM} string could not be placed")
        gbnf = gbnf.replace(literal, custom["expression"]) + "\n" + custom["rules"]
    return gbnf


def _marked(node: Any, spliced: list[Mapping[str, str]]) -> Any:
    """`node` with each ``x-gbnf`` string replaced by a constant marking where its grammar goes.

    A node ``{"type": "string", "x-gbnf": {"expression": ..., "rules": ...}}``
    is a string whose body the given GBNF decides (a compact plan, say).
    """
    if isinstance(node, list):
        return [_marked(item, spliced) for item in node]
    if not isinstance(node, Mapping):
        return node
    custom = node.get(_CUSTOM)
    if isinstance(custom, Mapping):
        spliced.append(custom)
        return {"const": _MARK.format(len(spliced) - 1)}
    return {key: _marked(value, spliced) for key, value in node.items()}


@functools.cache
def json_object_gbnf() -> str:
    """Grammar for any JSON object (``json_mode``)."""
    return schema_gbnf({"type": "object"})


def tool_call_gbnf(tools: Sequence[tuple[str, Mapping[str, Any]]], *, allow_text: bool) -> str:
    """Grammar for ``{"name": <one tool>, "arguments": <its args>}``, or free text.

    With `allow_text`, the reply is either such a call or prose that does not
    start with ``{``, so the first character decides which one it is.
    """
    calls = [
        {
            "type": "object",
            "properties": {"name": {"const": name}, "arguments": dict(params)},
            "required": ["name", "arguments"],
        }
        for name, params in tools
    ]
    schema: dict[str, Any] = calls[0] if len(calls) == 1 else {"anyOf": calls}
    grammar = schema_gbnf(schema)
    if not allow_text:
        return grammar
    renamed = re.sub(r"(?<![\w-])root(?![\w-])", "ponder-call", grammar)
    return (
        "root ::= ponder-call | ponder-text\n"
        "ponder-text ::= [^{] [\\U00000001-\\U0010FFFF]*\n" + renamed
    )


def _strict_chars(gbnf: str) -> str:
    # JSON forbids raw control characters inside strings; the stock rule allows them.
    return gbnf.replace('char ::= [^"\\\\] |', f"char ::= {_SAFE_CHAR} |", 1)


def _inline(node: Any, defs: Mapping[str, Any], stack: tuple[str, ...], recursive: set[str]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, stack, recursive) for item in node]
    if not isinstance(node, Mapping):
        return node
    ref = node.get("$ref")
    rest = {
        key: _inline(value, defs, stack, recursive)
        for key, value in node.items()
        if key not in ("$ref", "$defs", "definitions")
    }
    if ref is None:
        return rest
    match = _REF.match(ref) if isinstance(ref, str) else None
    if match is None or match.group(1) not in defs:
        raise ConfigError(f"cannot compile a grammar for the schema reference {ref!r}")
    name = match.group(1)
    if name in stack:
        recursive.add(name)
        return {"$ref": f"#/$defs/{name}", **rest}
    target = _inline(defs[name], defs, (*stack, name), recursive)
    return {**target, **rest} if isinstance(target, dict) else target


def _normalize(node: Any, patterns: bool) -> Any:
    if node is True:
        return dict(_ANY_VALUE)
    if not isinstance(node, dict):
        return node
    node = {k: v for k, v in node.items() if k != _CUSTOM}
    if not _SHAPING & node.keys():
        return {**node, **_ANY_VALUE}
    out = dict(node)
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
        del out["allOf"]
        out = {**_normalize(all_of[0], patterns), **out}
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(out.get(key), list):
            out[key] = [_normalize(item, patterns) for item in out[key]]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _normalize(v, patterns) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _normalize(out[key], patterns)
    if isinstance(out.get("items"), list):
        out["items"] = [_normalize(item, patterns) for item in out["items"]]
    if "pattern" in out:
        rewritten = _json_safe_pattern(out["pattern"]) if patterns else None
        if rewritten is None:
            del out["pattern"]
        else:
            out["pattern"] = rewritten
    return _integer_range(out)


def _integer_range(node: dict[str, Any]) -> dict[str, Any]:
    if node.get("type") != "integer" or "enum" in node or "const" in node:
        return node
    low = node.get("minimum")
    high = node.get("maximum")
    if isinstance(node.get("exclusiveMinimum"), int | float):
        low = int(node["exclusiveMinimum"]) + 1
    if isinstance(node.get("exclusiveMaximum"), int | float):
        high = -int(-node["exclusiveMaximum"]) - 1
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return node
    first, last = -int(-low // 1), int(high // 1)  # ceil(low), floor(high)
    if last < first or last - first >= _MAX_ENUM_RANGE:
        return node
    return {**node, "enum": list(range(first, last + 1))}


def _json_safe_pattern(pattern: Any) -> str | None:
    """Rewrite a regex for the converter so every match is a JSON-safe string body.

    Returns None when the pattern uses syntax the converter cannot express.
    """
    if not isinstance(pattern, str) or "(?" in pattern or '"' in pattern:
        return None
    start = pattern.startswith("^")
    end = pattern.endswith("$") and not pattern.endswith("\\$")
    body = pattern[1 if start else 0 : len(pattern) - 1 if end else len(pattern)]
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body):
                return None
            piece = _escape(body[i + 1], in_class)
            if piece is None:
                return None
            out.append(piece)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            if body.startswith("[^", i):
                out.append("[^" + _SAFE_CLASS_BODY)
                i += 2
                continue
            out.append(c)
        elif c == ".":
            out.append(_SAFE_CHAR)
        elif c in "^$":
            return None
        else:
            out.append(c)
        i += 1
    if in_class:
        return None
    free = f"{_SAFE_CHAR}*"
    return f"^{'' if start else free}({''.join(out)}){'' if end else free}$"


def _escape(char: str, in_class: bool) -> str | None:
    lower = char.lower()
    if lower in _ESCAPE_CLASSES:
        if char.isupper():
            return None  # \D, \W, \S: their Unicode complements have no small JSON-safe form
        chars = _ESCAPE_CLASSES[lower]
        return chars if in_class else f"[{chars}]"
    if char in "[]":
        return f"\\{char}" if in_class else f"[\\{char}]"
    if char == "-":
        return "\\-" if in_class else "[-]"
    if char in "./|(){}*+?^$":
        return char if in_class else f"[{char}]"
    return None  # \\, \n, \t, \b, back-references: not expressible JSON-safely
