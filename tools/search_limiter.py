"""One web-search rate limit shared by every run of a batch, in this process or on a Ray cluster.

Each run's `tools.search.WebSearch` paces its own backend calls, which is
enough for one run; a batch of 200 runs would still multiply that rate by its
concurrency and get the whole cluster banned. A batch therefore installs one
shared limiter (`using_search_limiter`) that every `WebSearch` built under it
acquires from before each backend request:

- `LocalSearchLimiter`: one token bucket for the tasks of a local batch;
- `RaySearchLimiter`: a named Ray actor holding the bucket, reached by every
  worker of a ``--ray`` batch (`start_ray_search_limiter` on the driver,
  `RaySearchLimiter(name)` on a worker).

The bucket hands out *reservations* (how long to wait), so the actor never
sleeps and one slow caller never holds up the others.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = [
    "LocalSearchLimiter",
    "RaySearchLimiter",
    "SearchLimiter",
    "TokenBucket",
    "current_search_limiter",
    "start_ray_search_limiter",
    "using_search_limiter",
]

RAY_NAMESPACE = "ponder"


class TokenBucket:
    """Paces calls: ``burst`` at once, then ``rate`` per second; waiters queue fairly.

    Thread-safe and loop-agnostic: a caller reserves its slot under a lock and
    then sleeps on its own event loop until the slot comes.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token now; the seconds to wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class SearchLimiter(Protocol):
    """What `WebSearch` waits on before each backend request."""

    rate: float

    async def acquire(self) -> None: ...


class LocalSearchLimiter:
    """One bucket for every run in this process (a local batch's tasks)."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._bucket = TokenBucket(rate, burst, clock)
        self._sleep = sleep

    async def acquire(self) -> None:
        wait = self._bucket.reserve()
        if wait > 0:
            await self._sleep(wait)


class _BucketActor:
    """The Ray actor: one bucket on one process's clock, for the whole cluster."""

    def __init__(self, rate: float, burst: int) -> None:
        self._bucket = TokenBucket(rate, burst)

    def reserve(self) -> float:
        return self._bucket.reserve()

    def rate(self) -> float:
        return self._bucket.rate


def limiter_actor_name(batch_id: str) -> str:
    return f"ponder-search-limiter-{batch_id}"


def start_ray_search_limiter(batch_id: str, rate: float, burst: int = 1) -> Any:
    """On the driver (``ray.init`` done): the batch's named limiter actor, created once.

    The actor lives as long as the driver's job; the handle is returned so the
    caller keeps it alive.
    """
    import ray

    actor = ray.remote(num_cpus=0)(_BucketActor)
    return actor.options(  # type: ignore[attr-defined]
        name=limiter_actor_name(batch_id), namespace=RAY_NAMESPACE, get_if_exists=True
    ).remote(rate, burst)


class RaySearchLimiter:
    """On a Ray worker: the batch's limiter actor, found by name."""

    def __init__(self, batch_id: str, rate: float) -> None:
        import ray

        self.rate = rate
        self._actor = ray.get_actor(limiter_actor_name(batch_id), namespace=RAY_NAMESPACE)

    async def acquire(self) -> None:
        wait = float(await self._actor.reserve.remote())
        if wait > 0:
            await asyncio.sleep(wait)


_CURRENT: ContextVar[SearchLimiter | None] = ContextVar("ponder_search_limiter", default=None)


def current_search_limiter() -> SearchLimiter | None:
    """The shared limiter of the batch this code runs in, if any."""
    return _CURRENT.get()


@contextmanager
def using_search_limiter(limiter: SearchLimiter | None) -> Iterator[None]:
    """Every `WebSearch` built inside (and in tasks started inside) uses ``limiter``."""
    token = _CURRENT.set(limiter)
    try:
        yield
    finally:
        _CURRENT.reset(token)
