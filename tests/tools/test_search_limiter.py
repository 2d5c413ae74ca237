"""The batch-wide web-search limiter: its token bucket, and runs sharing it in one process.

(Many Ray workers sharing it through the limiter actor: tests/e2e/test_scale_out.py.)
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from agent.settings import WebSearchSettings
from tests.tools.test_search import RESULTS, FakeClock
from tools.search import SearchOptions, SearchResult, WebSearch, WebSearchTool
from tools.search_limiter import (
    LocalSearchLimiter,
    TokenBucket,
    current_search_limiter,
    using_search_limiter,
)
from tools.toolbox import ToolboxOptions, build_toolbox


def test_bucket_spaces_reservations_by_one_over_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=1, clock=clock)
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    clock.now = 2.0  # idle long enough to refill, but never past the burst
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.25]


def test_bucket_allows_the_burst_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]


class StampedBackend:
    """Records when each request reached it (real time)."""

    name = "stamped"

    def __init__(self, times: list[float]) -> None:
        self.times = times

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]:
        self.times.append(time.monotonic())
        return RESULTS


async def test_runs_of_one_process_share_the_pace() -> None:
    """Four sessions (four runs of a local batch), three searches each, 20/s in all."""
    times: list[float] = []
    rate = 20.0

    async def one_run(n: int) -> None:
        session = WebSearch(StampedBackend(times), limiter=current_search_limiter())
        for q in range(3):
            await session.search(f"run {n} query {q}")

    with using_search_limiter(LocalSearchLimiter(rate)):
        await asyncio.wait_for(asyncio.gather(*(one_run(n) for n in range(4))), 10)
    assert len(times) == 12
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / rate - 0.01, gaps
    assert times[-1] - times[0] >= 11 / rate - 0.01


async def test_without_a_shared_limiter_each_run_paces_alone() -> None:
    """The control: per-run buckets let four runs' first searches go at once."""
    times: list[float] = []

    async def one_run(n: int) -> None:
        await WebSearch(StampedBackend(times)).search(f"run {n}")

    await asyncio.wait_for(asyncio.gather(*(one_run(n) for n in range(4))), 10)
    assert times[-1] - times[0] < 0.05


def test_toolbox_web_search_uses_the_batch_limiter_and_the_configured_rate(
    tmp_path: Path,
) -> None:
    settings = WebSearchSettings(rate_per_s=0.5)

    def session() -> WebSearch:
        box = build_toolbox(
            ToolboxOptions(
                search="web", index_dir=tmp_path, web_search=settings, only=("web_search",)
            )
        )
        (tool,) = [t for t in box.tools if t.name == "web_search"]
        assert isinstance(tool, WebSearchTool)
        return tool.session

    alone = session()
    assert alone.limiter is None and alone.policy.rate_per_s == 0.5
    shared = LocalSearchLimiter(3.0)
    with using_search_limiter(shared):
        assert session().limiter is shared
    assert current_search_limiter() is None
