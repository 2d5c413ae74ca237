"""Graph factories for LangGraph's server (``langgraph dev``, LangSmith Deployment).

``langgraph.json`` at the repo root names `research` and `plan_execute`. The
server calls a factory for every run (and for every schema or state read) and
the factory builds the graph from these keys:

    model         model spec, as for ``ponder run --model`` (default ``auto``):
                  ``demo``, ``openai:NAME``, ``anthropic:NAME``, ``ollama:NAME``,
                  ``llamacpp:PATH``, ``script:PATH`` (a scripted test model)
    base_url      the server of an ``openai:``/``ollama:`` model
    corpus        a folder of documents: adds ``corpus_search`` and ``read_document``
    search        ``web``, ``corpus`` or ``none`` (default: corpus if a corpus is
                  given, else web)
    tools         only these tool names (a list, or a comma-separated string)
    allow_hosts   hosts (``host[:port]``) the web tools may reach besides the public web
    code_sandbox  ``required`` (default), ``best-effort`` or ``off`` for the python tool
    index_dir     where corpus indexes live (default: ``$PONDER_HOME/corpus-index``)

Per-run *settings* (effort, budgets, approvals) sit beside them under
``settings``: ``{"model": "demo", "corpus": "examples/corpus", "settings":
{"effort": "low", "budgets": {"max_steps": 6}}}``. Send that one dict as the
assistant's or the run's ``context`` (or as ``config["configurable"]``: the
server refuses a run that sets both, and mirrors one into the other). The
factory reads the model and tool keys; the server trims the graph's context to
its schema, `RunContext`, which keeps ``settings``.

API keys are never read from this dict (the server stores it with every run):
the model's SDK gets them from the server's environment, which
``langgraph.json``'s ``env`` can fill from a ``.env`` file.

The server brings its own checkpointer, so the factories pass none. Reads of
schemas and state build the graph without its model and tools (same nodes and
edges), so a read never loads a model or indexes a corpus.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk.runtime import ServerRuntime
from pydantic import BaseModel, ConfigDict, field_validator

from agent.errors import ConfigError
from graphs._build import build_graph
from tools.toolbox import ToolboxOptions, build_toolbox

__all__ = ["ServerConfig", "plan_execute", "research"]

_log = logging.getLogger("ponder.server")
Purpose = Literal["research", "task"]


class ServerConfig(BaseModel):
    """The ``configurable`` keys Ponder's served graphs read; others are the server's own."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    model: str = "auto"
    base_url: str | None = None
    corpus: Path | None = None
    search: Literal["web", "corpus", "none"] | None = None
    tools: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    code_sandbox: Literal["required", "best-effort", "off"] = "required"
    index_dir: Path | None = None

    @field_validator("tools", "allow_hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @classmethod
    def from_request(cls, config: RunnableConfig | None, context: object = None) -> ServerConfig:
        """The keys from the run's config and, where the server passes it, its context."""
        keys = dict((config or {}).get("configurable") or {})
        if isinstance(context, Mapping):
            keys.update(context)
        return cls.model_validate({k: v for k, v in keys.items() if v is not None})


async def research(
    config: RunnableConfig, runtime: ServerRuntime[Any]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The research graph, built for one server request from its config."""
    return await _served("research", config, runtime)


async def plan_execute(
    config: RunnableConfig, runtime: ServerRuntime[Any]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The plan-and-execute graph, built for one server request from its config."""
    return await _served("task", config, runtime)


async def _served(
    purpose: Purpose, config: RunnableConfig, runtime: ServerRuntime[Any]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    name = "research" if purpose == "research" else "plan_execute"
    run = runtime.execution_runtime
    if run is None:
        return build_graph(_NotForRuns(), [], purpose=purpose, name=name)
    options = ServerConfig.from_request(config, run.context)
    # Loading a model or indexing a corpus blocks: keep it off the server's loop.
    model, tools = await asyncio.to_thread(_model_and_tools, options)
    return build_graph(model, tools, purpose=purpose, name=name)


def _model_and_tools(options: ServerConfig) -> tuple[BaseChatModel, list[BaseTool]]:
    from agent.models.resolve import resolve_model_spec

    resolved = resolve_model_spec(options.model, base_url=options.base_url, env=os.environ)
    if resolved.notice:
        _log.warning(resolved.notice)
    return resolved.model, _tools(options)


def _tools(options: ServerConfig) -> list[BaseTool]:
    from agent.store import default_store_path

    if options.corpus is not None and not options.corpus.is_dir():
        raise ConfigError(f"corpus folder {options.corpus} does not exist or is not a folder")
    index_dir = options.index_dir or default_store_path(os.environ).parent / "corpus-index"
    return list(
        _toolbox(
            ToolboxOptions(
                search=options.search or ("corpus" if options.corpus else "web"),
                corpus=options.corpus.resolve() if options.corpus else None,
                index_dir=index_dir,
                allow_hosts=options.allow_hosts,
                code_sandbox=options.code_sandbox,
                only=options.tools,
            )
        )
    )


@functools.lru_cache(maxsize=16)
def _toolbox(options: ToolboxOptions) -> tuple[BaseTool, ...]:
    """Tools are shared by the runs that ask for the same ones (one corpus index, one browser)."""
    box = build_toolbox(options)
    for notice in box.notices:
        _log.warning(notice)
    return tuple(box.tools)


class _NotForRuns(BaseChatModel):
    """Stands in for the model in graphs the server builds only to read schemas or state."""

    @property
    def _llm_type(self) -> str:
        return "ponder-introspection"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise ConfigError("this graph was built to read schemas or state, not to run")
