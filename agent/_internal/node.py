"""Graph nodes whose bodies run on Ponder's I/O loop, under invoke and ainvoke alike."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph._internal._runnable import RunnableCallable  # LangGraph's own node wrapper
from langgraph.runtime import Runtime

from agent._internal.io_loop import io_loop

__all__ = ["io_node"]

NodeBody = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


def io_node(body: NodeBody, *, name: str, **deps: Any) -> RunnableCallable:
    """Wrap ``body(state, runtime, config, **deps)`` as a node with sync and async twins.

    LangGraph injects ``runtime`` and ``config`` by parameter name; the body gets
    them explicitly because it runs on another thread, outside LangGraph's
    context variables.
    """
    bound = functools.partial(body, **deps)

    def run_sync(state: Any, runtime: Runtime[Any], config: RunnableConfig) -> dict[str, Any]:
        return io_loop().run(bound(state, runtime, config))

    async def run_async(
        state: Any, runtime: Runtime[Any], config: RunnableConfig
    ) -> dict[str, Any]:
        return await io_loop().arun(bound(state, runtime, config))

    return RunnableCallable(run_sync, run_async, name=name)
