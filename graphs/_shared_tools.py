"""One tool call, run once for every sampled path that makes it.

Each tool is wrapped so a call is keyed by the tool's name and its arguments:
the first path to make it runs it, concurrent and later identical calls wait
for and reuse that result (only successful results are kept). A LangChain
tool answers a tool call with a `ToolMessage` naming the call's id, so a
reused message is re-addressed to the caller's id.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import json
import threading
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

__all__ = ["SharedToolCalls"]


def _key(name: str, call: Any) -> str:
    args = call.get("args", call) if isinstance(call, dict) else call
    return name + ":" + json.dumps(args, sort_keys=True, default=str)


def _addressed(result: Any, call: Any) -> Any:
    if isinstance(result, ToolMessage) and isinstance(call, dict) and call.get("id"):
        return result.model_copy(update={"tool_call_id": call["id"]})
    return result


class SharedToolCalls:
    """The cache shared by the paths of one run; `runs` counts real tool runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, Any] = {}
        self._running: dict[str, concurrent.futures.Future[Any]] = {}
        self.runs = 0
        self.reused = 0

    def _claim(self, key: str) -> tuple[bool, concurrent.futures.Future[Any] | None, Any]:
        """(is mine to run, a future to wait on, a finished result)."""
        with self._lock:
            if key in self._done:
                self.reused += 1
                return False, None, self._done[key]
            if key in self._running:
                self.reused += 1
                return False, self._running[key], None
            self._running[key] = concurrent.futures.Future()
            self.runs += 1
            return True, self._running[key], None

    def _settle(self, key: str, result: Any, error: BaseException | None) -> None:
        with self._lock:
            future = self._running.pop(key)
            if error is None:
                self._done[key] = result
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def share(self, tool: BaseTool) -> BaseTool:
        """A copy of ``tool`` whose calls go through this cache."""
        cache, base = self, type(tool)

        def invoke(self: BaseTool, call: Any, config: Any = None, **kw: Any) -> Any:
            key = _key(self.name, call)
            mine, future, result = cache._claim(key)
            if not mine:
                return _addressed(result if future is None else future.result(), call)
            try:
                value = base.invoke(self, call, config, **kw)
            except BaseException as exc:
                cache._settle(key, None, exc)
                raise
            cache._settle(key, value, None)
            return value

        async def ainvoke(self: BaseTool, call: Any, config: Any = None, **kw: Any) -> Any:
            key = _key(self.name, call)
            mine, future, result = cache._claim(key)
            if not mine:
                if future is None:
                    return _addressed(result, call)
                return _addressed(await asyncio.wrap_future(future), call)
            try:
                value = await base.ainvoke(self, call, config, **kw)
            except BaseException as exc:
                cache._settle(key, None, exc)
                raise
            cache._settle(key, value, None)
            return value

        shared_type = type(
            f"Shared{base.__name__}", (base,), {"invoke": invoke, "ainvoke": ainvoke}
        )
        shared = copy.copy(tool)
        shared.__class__ = shared_type
        return shared
