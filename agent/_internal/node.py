"""Graph nodes whose bodies run on Ponder's I/O loop, under invoke and ainvoke alike."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.runtime import get_runtime

from agent._internal.io_loop import io_loop

__all__ = ["io_node"]

NodeBody = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


def io_node(body: NodeBody, *, name: str, **deps: Any) -> RunnableLambda[Any, dict[str, Any]]:
    """Wrap ``body(state, runtime, config, **deps)`` as a node with sync and async twins.

    Public API only: a `RunnableLambda` with both twins gets ``config`` passed in,
    and ``get_runtime()`` reads the run's runtime on LangGraph's side. The body gets
    both explicitly because it runs on another thread, outside LangGraph's context
    variables.
    """
    bound = functools.partial(body, **deps)

    def run_sync(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return io_loop().run(bound(state, get_runtime(), config))

    async def run_async(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return await io_loop().arun(bound(state, get_runtime(), config))

    return RunnableLambda(run_sync, afunc=run_async, name=name)
