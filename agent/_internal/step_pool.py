"""Running steps, kept between executor supersteps.

LangGraph supersteps are barriers: a node's parallel branches all finish before
the next superstep starts (langgraph issue #6320). Ponder's executor instead
starts each step as a task here and returns as soon as *any* step finishes, so
that step is checkpointed at once while the others keep running; the next
executor superstep (or the reflection) finds them still in flight. Lives on the I/O
loop; every method must be called there.

`agent.dispatch` is its one user: nodes start, wait for and cancel steps through
it, and its docstring gives the rules (including what a resume does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["StepKey", "StepPool", "step_pool"]

T = TypeVar("T")

_UNCLAIMED_TTL_S = 1800.0


@dataclass(frozen=True)
class StepKey:
    """A step attempt with a fixed input: the same key is the same work."""

    run_id: str
    step_id: str
    attempt: int
    fingerprint: str


@dataclass
class _Entry(Generic[T]):
    task: asyncio.Task[T]
    started: float


class StepPool:
    def __init__(self) -> None:
        self._entries: dict[StepKey, _Entry[Any]] = {}

    def start(self, key: StepKey, work: Coroutine[Any, Any, Any]) -> bool:
        """Start ``work`` unless this exact attempt is already running or done."""
        self._sweep()
        if key in self._entries:
            work.close()
            return False
        task = asyncio.get_running_loop().create_task(work, name=f"ponder-step-{key.step_id}")
        self._entries[key] = _Entry(task, time.monotonic())
        return True

    def keys(self, run_id: str) -> list[StepKey]:
        return [k for k in self._entries if k.run_id == run_id]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def done_keys(self, run_id: str) -> list[StepKey]:
        return [k for k, e in self._entries.items() if k.run_id == run_id and e.task.done()]

    async def wait_any(self, keys: Iterable[StepKey], timeout: float | None) -> list[StepKey]:
        """Wait until one of ``keys`` is done; return every one of them that is."""
        tasks = {self._entries[k].task: k for k in keys if k in self._entries}
        if not tasks:
            return []
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        del done
        return [k for t, k in tasks.items() if t.done()]

    def claim(self, key: StepKey) -> Any:
        """Take a finished step's result out of the pool (re-raises a framework bug)."""
        entry = self._entries.pop(key)
        return entry.task.result()

    def cancel(self, run_id: str, *, keep: Iterable[StepKey] = ()) -> int:
        """Cancel and forget a run's steps, except ``keep``; returns how many."""
        kept = set(keep)
        doomed = [k for k in self.keys(run_id) if k not in kept]
        for key in doomed:
            self._entries.pop(key).task.cancel()
        return len(doomed)

    def cancel_keys(self, keys: Iterable[StepKey]) -> int:
        """Cancel and forget exactly these steps; returns how many were running."""
        doomed = [k for k in keys if k in self._entries]
        for key in doomed:
            self._entries.pop(key).task.cancel()
        return len(doomed)

    def _sweep(self) -> None:
        """Forget results nobody claimed (the run that started them went away)."""
        now = time.monotonic()
        stale = [
            k
            for k, e in self._entries.items()
            if e.task.done() and now - e.started > _UNCLAIMED_TTL_S
        ]
        for key in stale:
            self._entries.pop(key)


_POOL = StepPool()


def step_pool() -> StepPool:
    return _POOL
