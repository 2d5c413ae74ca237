"""One private event loop, in a daemon thread, for all of Ponder's I/O in a process.

Why: graph nodes must work under both ``invoke`` and ``ainvoke``, and the
resources steps share (the browser pool, HTTP clients, running step tasks) are
bound to the loop that created them. Running every node body and tool call on
this one loop lets sync and async callers, and callers on different loops
(pytest, notebooks, servers), share them safely. Steps still in flight when an
executor superstep ends keep running here, which is how a slow step never holds
back the dependents of a fast one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["IOLoop", "io_loop"]

T = TypeVar("T")


class IOLoop:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="ponder-io", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run to completion from synchronous code (never from the loop itself)."""
        if self.in_loop():
            coro.close()
            raise RuntimeError("IOLoop.run() called from the I/O loop; await the coroutine")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await from any event loop; cancelling the caller cancels the work."""
        if self.in_loop():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def _reset_after_fork(self) -> None:
        self._loop, self._thread, self._lock = None, None, threading.Lock()


_IO_LOOP = IOLoop()
os.register_at_fork(after_in_child=_IO_LOOP._reset_after_fork)


def io_loop() -> IOLoop:
    return _IO_LOOP
