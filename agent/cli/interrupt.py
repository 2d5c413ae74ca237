"""Ctrl-C for a CLI run: the first press stops the run cleanly, a second exits at once.

``asyncio.run`` turns the first Ctrl-C into a cancellation of the main task,
but a question blocked in ``input()`` does not see it (the read is retried)
and a second Ctrl-C then lands wherever the interpreter happens to be. Here
the first press cancels the run's task, or, while a question is being asked,
raises `KeyboardInterrupt` out of the question; the run's own code then marks
it interrupted. A second press runs a last-words callback (mark the run, say
how to resume), restores the cursor and leaves with ``os._exit(130)``, without
waiting for any thread.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

__all__ = ["EXIT_INTERRUPTED", "asking", "leave_now", "run_interruptible"]

T = TypeVar("T")
EXIT_INTERRUPTED = 130

_asking = threading.Event()


@contextlib.contextmanager
def asking() -> Iterator[None]:
    """Mark a blocking question on the terminal, so Ctrl-C interrupts it at once."""
    _asking.set()
    try:
        yield
    finally:
        _asking.clear()


def run_interruptible(
    work: Coroutine[Any, Any, T], *, last_words: Callable[[], str] = lambda: ""
) -> T:
    """``asyncio.run(work)``; after Ctrl-C has cancelled ``work`` it raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(work)
    presses = 0
    target: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            _exit_now(last_words)
        if target is None or _asking.is_set():
            raise KeyboardInterrupt
        loop, task = target
        loop.call_soon_threadsafe(task.cancel)

    async def main() -> T:
        nonlocal target
        task = asyncio.current_task()
        if task is not None:
            target = (asyncio.get_running_loop(), task)
        try:
            return await work
        except asyncio.CancelledError:
            if presses:
                raise KeyboardInterrupt from None
            raise

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return asyncio.run(main())
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_now(last_words: Callable[[], str]) -> None:
    """Write straight to fd 2: the live view may hold the console's lock."""
    try:
        line = last_words()
        cursor = "\x1b[?25h\n" if os.isatty(2) else ""  # the live view hid the cursor
        os.write(2, f"{cursor}{line}\n".encode())
    finally:
        os._exit(EXIT_INTERRUPTED)


def leave_now(code: int) -> None:
    """Exit after the cleanup hooks, skipping the interpreter's teardown.

    Tearing down the modules a run imports takes about a second on a small
    machine; after Ctrl-C that second is the user's. ``atexit`` hooks (closing
    the local model, the browser) still run; only garbage collection is skipped.
    """
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
