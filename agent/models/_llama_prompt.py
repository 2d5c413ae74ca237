"""What one `ChatLlamaCpp` call runs: template turns, sampling, and the grammar.

Local GGUF chat templates know system/user/assistant turns and little else, so
tool calls and tool results become plain text turns, and the tools or output
schema go into the system turn where even a small model can read them. The
grammar follows from the tool choice or ``response_format``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from agent.models._grammar import json_object_gbnf, schema_gbnf, tool_call_gbnf
from agent.models._llama_engine import Sampling

__all__ = [
    "CallMode",
    "CallPlan",
    "ToolSpec",
    "call_id",
    "chat_messages",
    "compact_schema",
    "normalize_tool_choice",
    "plan_call",
    "schema_instructions",
    "tool_instructions",
    "tool_spec",
]

CallMode = Literal["text", "json", "tool", "tools", "auto"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any]

    def as_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }


def tool_spec(tool: Any) -> ToolSpec:
    """Name, description and JSON-schema parameters of anything `bind_tools` accepts."""
    if isinstance(tool, type) and issubclass(tool, BaseModel):
        # Keep pydantic's own schema: refs and patterns survive for the grammar.
        schema = tool.model_json_schema()
        return ToolSpec(
            name=tool.model_config.get("title") or tool.__name__,
            description=(tool.__doc__ or "").strip(),
            parameters=schema,
        )
    if isinstance(tool, Mapping) and "title" in tool and "function" not in tool:
        # A bare JSON schema, as `with_structured_output` accepts.
        return ToolSpec(
            name=str(tool["title"]),
            description=str(tool.get("description", "")),
            parameters=tool,
        )
    function = convert_to_openai_tool(tool)["function"]
    return ToolSpec(
        name=function["name"],
        description=function.get("description", ""),
        parameters=function.get("parameters", {"type": "object", "properties": {}}),
    )


@dataclass(frozen=True)
class CallPlan:
    """Everything one generation needs, decided before the model is locked."""

    turns: list[dict[str, str]]
    sampling: Sampling
    mode: CallMode
    grammar: str | None = None
    tool: str | None = None


def plan_call(
    messages: Sequence[BaseMessage],
    sampling: Sampling,
    *,
    response_format: Any,
    tools: Sequence[ToolSpec],
    tool_choice: str | dict[str, Any] | bool | None,
    hint_chars: int,
) -> CallPlan:
    """Bound tools win over a ``response_format``; with neither the reply is free text.

    Schemas of up to `hint_chars` characters (compacted) are shown to the model;
    longer ones are left to the grammar and to the caller's own prompt.
    """
    choice = normalize_tool_choice(tool_choice, tools) if tools else "none"
    if choice != "none":
        forced = None if choice in ("any", "auto") else choice
        hint = (
            tool_instructions(
                tools, forced=forced, allow_text=choice == "auto", hint_chars=hint_chars
            )
            if hint_chars > 0 or forced is None
            else None
        )
        turns = chat_messages(messages, hint)
        if forced is not None:
            params = next(t.parameters for t in tools if t.name == forced)
            return CallPlan(turns, sampling, "tool", schema_gbnf(params), tool=forced)
        pairs = [(t.name, t.parameters) for t in tools]
        mode: CallMode = "auto" if choice == "auto" else "tools"
        return CallPlan(turns, sampling, mode, tool_call_gbnf(pairs, allow_text=mode == "auto"))
    if response_format is None:
        return CallPlan(chat_messages(messages), sampling, "text")
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind == "json_schema":
        schema = response_format["json_schema"]["schema"]
    elif kind == "json_object":
        schema = response_format.get("schema")
    else:
        raise ValueError(f"unsupported response_format: {response_format!r}")
    if schema is None:
        return CallPlan(chat_messages(messages), sampling, "json", json_object_gbnf())
    hint = schema_instructions(schema, hint_chars)
    return CallPlan(chat_messages(messages, hint), sampling, "json", schema_gbnf(schema))


def normalize_tool_choice(
    choice: str | dict[str, Any] | bool | None, tools: Sequence[ToolSpec]
) -> str:
    """Normalise a tool choice to "auto", "none", "any" or one tool's name."""
    names = [t.name for t in tools]
    if isinstance(choice, dict):
        choice = choice.get("function", {}).get("name") or choice.get("name")
    if choice in (None, "auto"):
        return "auto"
    if choice == "none":
        return "none"
    if choice in (True, "any", "required"):
        return names[0] if len(names) == 1 else "any"
    if isinstance(choice, str) and choice in names:
        return choice
    raise ValueError(f"tool_choice {choice!r} names no bound tool (bound: {names})")


def call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def schema_instructions(schema: Mapping[str, Any], hint_chars: int) -> str | None:
    shown = compact_schema(schema, hint_chars)
    if shown is None:
        return None
    return "Reply with only a JSON object that follows this JSON schema:\n" + shown


def tool_instructions(
    tools: Sequence[ToolSpec], *, forced: str | None, allow_text: bool, hint_chars: int
) -> str:
    if forced is not None:
        spec = next(t for t in tools if t.name == forced)
        purpose = f" ({spec.description})" if spec.description else ""
        shown = compact_schema(spec.parameters, hint_chars)
        text = f"Call the tool `{spec.name}`{purpose}. Reply with only its arguments"
        if shown is None:
            return text + ", as a JSON object."
        return text + ", a JSON object that follows this JSON schema:\n" + shown
    lines = ["You can call these tools:"]
    for spec in tools:
        shown = compact_schema(spec.parameters, hint_chars)
        schema_text = f"; arguments schema: {shown}" if shown is not None else ""
        lines.append(f"- {spec.name}: {spec.description or 'no description'}{schema_text}")
    lines.append(
        'To call a tool, reply with only {"name": <tool name>, "arguments": <arguments object>}.'
    )
    if allow_text:
        lines.append("If no tool is needed, answer in plain text instead.")
    return "\n".join(lines)


def compact_schema(schema: Mapping[str, Any], limit: int) -> str | None:
    """`schema` as short JSON (nested titles dropped), or None if longer than `limit`.

    Prompt tokens are the slow part on a small CPU (about 150 tok/s here), and
    the grammar enforces the shape whether or not the model reads it.
    """
    if limit <= 0:
        return None
    text = json.dumps(_untitled(schema, top=True), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else None


def _untitled(node: Any, *, top: bool = False) -> Any:
    if isinstance(node, list):
        return [_untitled(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if (key == "title" and not top) or key == "x-gbnf":  # a grammar is no reading for the model
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            out[key] = {name: _untitled(sub) for name, sub in value.items()}  # names stay
        else:
            out[key] = _untitled(value)
    return out


def chat_messages(
    messages: Sequence[BaseMessage], instructions: str | None = None
) -> list[dict[str, str]]:
    """Template-ready turns: roles merged so they alternate, `instructions` in the system turn."""
    turns: list[dict[str, str]] = []
    for message in messages:
        role, text = _turn(message)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": text})
    if instructions:
        if turns and turns[0]["role"] == "system":
            turns[0]["content"] += "\n\n" + instructions
        else:
            turns.insert(0, {"role": "system", "content": instructions})
    return turns


def _turn(message: BaseMessage) -> tuple[str, str]:
    text = _text(message.content)
    if isinstance(message, SystemMessage):
        return "system", text
    if isinstance(message, HumanMessage):
        return "user", text
    if isinstance(message, AIMessage):
        calls = [_call_text(call) for call in message.tool_calls]
        return "assistant", "\n".join(part for part in (text, *calls) if part)
    if isinstance(message, ToolMessage):
        name = f" `{message.name}`" if message.name else ""
        return "user", f"Result of tool{name} (call {message.tool_call_id}):\n{text}"
    if isinstance(message, FunctionMessage):
        return "user", f"Result of tool `{message.name}`:\n{text}"
    if isinstance(message, ChatMessage):
        return message.role, text
    raise ValueError(f"ChatLlamaCpp cannot render a {type(message).__name__}")


def _call_text(call: ToolCall) -> str:
    return json.dumps({"name": call["name"], "arguments": call["args"]}, ensure_ascii=False)


def _text(content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            raise ValueError(f"ChatLlamaCpp reads text only, not {block.get('type')!r} blocks")
    return "".join(parts)
