"""The registry of LangChain tools a graph may plan with and call.

Any `BaseTool` (or ``@tool`` function) works. The planner reads each tool's
name, description and argument schema from here; the executor calls tools
through here, so every outcome becomes an `Observation`: a Ponder tool's own
artifact, or another tool's text wrapped into one. A tool that raises, hangs
past its timeout or floods its output yields an error or truncated
observation, never a crashed run.

A tool with only a sync implementation runs on a daemon thread of its own:
LangGraph's timeouts are cooperative and cannot stop a blocked sync call, so
after its timeout the call is abandoned and its thread runs on until the call
returns. On the loop's shared default executor a few such calls would take
every worker and stall all else that uses it (sync callbacks, DNS lookups,
other tools); on its own daemon thread it leaks only itself and never holds up
interpreter exit. Only a subprocess could truly stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.tools import tool as as_tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, JsonValue, ValidationError

from agent.errors import ConfigError
from agent.observation import Observation, Passage

__all__ = ["MAX_DOCUMENT_CHARS", "MAX_OBSERVATION_CHARS", "Toolset"]

MAX_OBSERVATION_CHARS = 60_000
MAX_DOCUMENT_CHARS = 400_000


class Toolset:
    def __init__(self, tools: Iterable[BaseTool | Callable[..., Any]]) -> None:
        self._tools: dict[str, BaseTool] = {}
        for item in tools:
            tool = item if isinstance(item, BaseTool) else as_tool(item)
            if tool.name in self._tools:
                raise ConfigError(f"two tools are named {tool.name!r}; tool names must be unique")
            self._tools[tool.name] = tool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> BaseTool:
        return self._tools[name]

    def runs_code(self, name: str) -> bool:
        """Tools that execute model-written code say so in their metadata."""
        tool = self._tools.get(name)
        return bool(tool is not None and (tool.metadata or {}).get("ponder_runs_code"))

    def needs_approval(self, name: str) -> bool:
        """Whether a person must approve a call first when ``approve_code`` is on.

        True for the ``python`` tool, any tool that runs model-written code, and
        any tool whose metadata says ``needs_approval`` (side-effecting MCP tools).
        """
        tool = self._tools.get(name)
        metadata = (tool.metadata or {}) if tool is not None else {}
        return name == "python" or self.runs_code(name) or bool(metadata.get("needs_approval"))

    def parameters(self, name: str) -> dict[str, Any]:
        params: dict[str, Any] = convert_to_openai_tool(self._tools[name])["function"].get(
            "parameters", {"type": "object", "properties": {}}
        )
        return params

    def describe(self) -> str:
        """One block per tool, as the planner sees them: a signature, then each argument.

        Prose, not a JSON-schema dump: small models copy schema syntax into
        their plans (a query of ``{'type': 'string'}``), and larger ones need no
        more than this. The exact schema still constrains the reply.
        """
        blocks = []
        for name, tool in self._tools.items():
            params = self.parameters(name)
            props: dict[str, Any] = params.get("properties", {})
            required = set(params.get("required", []))
            signature = ", ".join(
                arg if arg in required else f"{arg}={json.dumps(spec.get('default'))}"
                for arg, spec in props.items()
            )
            lines = [f"- {name}({signature}): {tool.description.strip()}"]
            for arg, spec in props.items():
                facts = [_kind(spec)] + (["required"] if arg in required else [])
                choices = spec.get("enum")
                tail = f"; one of: {', '.join(map(str, choices))}" if choices else ""
                lines.append(f"    {arg} ({', '.join(facts)}): {spec.get('description', '')}{tail}")
            blocks.append("\n".join(lines))
        return "\n".join(blocks)

    def validate_input(self, name: str, args: Mapping[str, JsonValue]) -> str | None:
        """The error to show the model, or None if the tool accepts ``args``."""
        if name not in self._tools:
            return f"unknown tool {name!r}; known tools: {', '.join(self._tools)}"
        schema = self._tools[name].tool_call_schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            try:
                schema.model_validate(dict(args))
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(x) for x in first.get("loc", ()))
                return f"input for {name} is invalid at {loc or 'input'}: {first.get('msg')}"
            return None
        missing = [r for r in self.parameters(name).get("required", []) if r not in args]
        return f"input for {name} lacks {', '.join(missing)}" if missing else None

    async def run(
        self,
        name: str,
        args: Mapping[str, JsonValue],
        *,
        call_id: str,
        timeout_s: float,
        config: RunnableConfig | None = None,
        ref: str | None = None,
    ) -> Observation:
        """Call tool ``name``; ``ref`` names the source when the tool's output is plain text."""
        problem = self.validate_input(name, args)
        if problem:
            return Observation.failure(name, "invalid_input", problem)
        call = {"name": name, "args": dict(args), "id": call_id, "type": "tool_call"}
        try:
            message = await asyncio.wait_for(_invoke(self._tools[name], call, config), timeout_s)
        except TimeoutError:
            return Observation.failure(
                name, "timeout", f"{name} did not finish within {timeout_s:g}s", retryable=True
            )
        except Exception as exc:  # a tool's own failure: the model sees it as an observation
            return Observation.failure(name, "error", f"{type(exc).__name__}: {exc}"[:2000])
        artifact = getattr(message, "artifact", None)
        if isinstance(artifact, Observation):
            return _capped(artifact)
        content = getattr(message, "content", message)
        status = getattr(message, "status", "success")
        text = _as_text(content)
        if status == "error":
            return Observation.failure(name, "error", text[:2000])
        ref = ref or f"tool:{name}"
        return _capped(
            Observation(
                tool=name,
                ok=True,
                content=text,
                passages=(
                    Passage(
                        ref=ref,
                        title=name,
                        text=text[:2000],
                        start=0,
                        end=min(len(text), 2000),
                        kind="output",
                    ),
                ),
                documents={ref: text},
                value=text.strip()[:4000],
            )
        )


def _kind(spec: Mapping[str, Any]) -> str:
    """An argument's JSON type in words; an optional one (``X | None``) reads as X."""
    words = {"string": "text", "array": "list"}
    types = [spec.get("type")] if "type" in spec else [v.get("type") for v in spec.get("anyOf", [])]
    named = [words.get(str(t), str(t)) for t in types if t and t != "null"]
    return " or ".join(named) or "any value"


def _sync_only(tool: BaseTool) -> bool:
    """No async implementation: LangChain would run it on the loop's shared executor."""
    if isinstance(tool, StructuredTool):
        return tool.coroutine is None
    return type(tool)._arun is BaseTool._arun


async def _invoke(tool: BaseTool, call: dict[str, Any], config: RunnableConfig | None) -> Any:
    if not _sync_only(tool):
        return await tool.ainvoke(call, config)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if done.done():  # abandoned after its timeout
            return
        if error is None:
            done.set_result(value)
        else:
            done.set_exception(error)

    def work() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = context.run(tool.invoke, call, config)
        except Exception as exc:  # the tool's failure, re-raised to the awaiting caller
            error = RuntimeError(repr(exc)) if isinstance(exc, StopIteration) else exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name=f"ponder-tool-{tool.name}", daemon=True).start()
    return await done


def _as_text(content: Any) -> str:
    if isinstance(content, bytes):
        return content.decode("utf-8", errors="replace")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "\n".join(parts)
    return json.dumps(content, default=str, ensure_ascii=False)


def _capped(obs: Observation) -> Observation:
    """Keep state and checkpoints bounded whatever a tool returns."""
    changes: dict[str, Any] = {}
    if len(obs.content) > MAX_OBSERVATION_CHARS:
        changes["content"] = obs.content[:MAX_OBSERVATION_CHARS] + "\n[…truncated]"
        changes["truncated"] = True
    if any(len(d) > MAX_DOCUMENT_CHARS for d in obs.documents.values()):
        changes["documents"] = {k: v[:MAX_DOCUMENT_CHARS] for k, v in obs.documents.items()}
        changes["truncated"] = True
    if len(obs.value) > MAX_OBSERVATION_CHARS:
        changes["value"] = obs.value[:MAX_OBSERVATION_CHARS]
    return obs.model_copy(update=changes) if changes else obs
