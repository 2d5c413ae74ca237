"""LangChain messages and tool specs as prompts for a local chat template.

Local GGUF chat templates know system/user/assistant turns and little else, so
tool calls and tool results become plain text turns, and the tools or output
schema go into the system turn where even a small model can read them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

__all__ = [
    "ToolSpec",
    "call_id",
    "chat_messages",
    "schema_instructions",
    "tool_instructions",
    "tool_spec",
]


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


def call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def schema_instructions(schema: Mapping[str, Any]) -> str:
    return (
        "Reply with only a JSON object that follows this JSON schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )


def tool_instructions(tools: Sequence[ToolSpec], *, forced: str | None, allow_text: bool) -> str:
    if forced is not None:
        spec = next(t for t in tools if t.name == forced)
        purpose = f" ({spec.description})" if spec.description else ""
        return (
            f"Call the tool `{spec.name}`{purpose}. Reply with only its arguments, "
            "a JSON object that follows this JSON schema:\n"
            + json.dumps(spec.parameters, ensure_ascii=False)
        )
    lines = ["You can call these tools:"]
    for spec in tools:
        lines.append(
            f"- {spec.name}: {spec.description or 'no description'}; arguments schema: "
            + json.dumps(spec.parameters, ensure_ascii=False)
        )
    lines.append(
        'To call a tool, reply with only {"name": <tool name>, "arguments": <arguments object>}.'
    )
    if allow_text:
        lines.append("If no tool is needed, answer in plain text instead.")
    return "\n".join(lines)


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
