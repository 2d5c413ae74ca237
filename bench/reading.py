"""Page reading speed: HTTP-first fetch against the browser, on local pages.

Serves Debian's python3.11-doc HTML (/usr/share/doc/python3.11/html) from a
loopback server and reads the same 50 pages four ways:

- ``fetch_url`` in ``http`` mode, one page at a time and 4 at a time (median
  of 3 trials each), extracting in worker processes (the default) and, for
  comparison, in a thread as before; with the CPU time per page of this
  process and its extraction workers, which the machine's load moves less
  than the wall time;
- ``fetch_url`` in ``browser`` mode (real Chromium), one page at a time, and
  again for half the pages with ``route_guard=False`` (the guard proxy alone);
- the research read path: ``fetch_url`` in ``auto`` mode, 4 at a time, on a
  mixed set where 10 of the 50 pages only render with JavaScript;
- with 0.5 s of server latency per page, the browser with a pool of 4 pages
  working at once against a pool of 1.

Reports pages/s, median seconds per page, and peak RSS of this process plus
its children (Playwright's driver and Chromium). Prints a table and writes
``bench/results/reading.json``.

    .venv/bin/python -m bench.reading [--docs DIR] [--pages N] [--http-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent._internal.io_loop import io_loop  # noqa: E402
from bench.docsite import DocSite  # noqa: E402
from tools.browser import BrowserOptions, BrowserPool  # noqa: E402
from tools.fetch import FetchOptions, FetchTool  # noqa: E402

DOCS = Path("/usr/share/doc/python3.11/html")
RESULTS = Path(__file__).with_name("results") / "reading.json"
ANCHORS = {"http_pages_s": 16.0, "browser_pages_s": 2.3, "pool4_pages_s": 2.0, "pool1_pages_s": 1.2}


class PeakRSS:
    """Samples the RSS of this process and all its children in a thread."""

    def __init__(self, every_s: float = 0.1) -> None:
        self.peak_mb = 0.0
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue  # a process that just exited
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self._every_s)


def pick_pages(docs: Path, n: int) -> list[str]:
    """`n` library pages spread over the alphabet, the same on every run."""
    pages = sorted(p.relative_to(docs).as_posix() for p in (docs / "library").glob("*.html"))
    step = max(1, len(pages) // n)
    return pages[::step][:n]


async def timed(
    urls: list[str], read: Callable[[str], Awaitable[Any]], concurrency: int
) -> tuple[float, list[float], list[Any]]:
    """(wall seconds, per-page seconds, observations), `concurrency` pages at a time."""
    gate = asyncio.Semaphore(concurrency)
    per_page: list[float] = []

    async def one(url: str) -> Any:
        async with gate:
            began = time.perf_counter()
            obs = await read(url)
            per_page.append(time.perf_counter() - began)
            return obs

    began = time.perf_counter()
    results = await asyncio.gather(*(one(url) for url in urls))
    return time.perf_counter() - began, per_page, list(results)


def cpu_s() -> float:
    """CPU seconds of this process and its live children (the extraction workers)."""
    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


async def http_rates(urls: list[str], tool: FetchTool, concurrency: int) -> dict[str, float]:
    """Pages/s, median s/page and CPU ms/page over 3 trials (medians)."""
    rates, medians, cpus = [], [], []
    for _ in range(3):
        cpu = cpu_s()
        wall, per_page, results = await timed(
            urls, lambda u: tool.observe(url=u, mode="http"), concurrency
        )
        cpus.append((cpu_s() - cpu) / len(urls))
        check(results, "http")
        rates.append(len(urls) / wall)
        medians.append(statistics.median(per_page))
    return {
        "pages_s": round(statistics.median(rates), 2),
        "median_page_s": round(statistics.median(medians), 3),
        "cpu_ms_per_page": round(1000 * statistics.median(cpus), 1),
    }


async def run_http(docs: Path, n: int) -> dict[str, Any]:
    """HTTP-first reading only: 1 and 4 at a time, worker processes against a thread."""
    pages = pick_pages(docs, n)
    site = DocSite(docs)
    out: dict[str, Any] = {}
    try:
        urls = [site.url("/" + p) for p in pages]
        for label, processes in (("http", True), ("http_thread", False)):
            options = FetchOptions(extract_in_processes=processes)
            tool = FetchTool(policy=site.policy, options=options)
            await tool.observe(url=urls[0], mode="http")  # starts the workers outside the timing
            for concurrency in (1, 4):
                got = await http_rates(urls, tool, concurrency)
                suffix = "" if concurrency == 1 else f"_x{concurrency}"
                for key, value in got.items():
                    out[f"{label}{suffix}_{key}"] = value
            await tool.aclose()
    finally:
        site.stop()
    return out


def check(results: list[Any], label: str) -> None:
    failed = [obs.error for obs in results if not obs.ok]
    if failed:
        raise SystemExit(f"{label}: {len(failed)} pages failed, first: {failed[0]}")


async def run(docs: Path, n: int) -> dict[str, Any]:
    pages = pick_pages(docs, n)
    out: dict[str, Any] = {"docs": str(docs), "pages": len(pages), **await run_http(docs, n)}
    site = DocSite(docs)
    slow_site = DocSite(docs, latency_s=0.5)
    pool = BrowserPool(BrowserOptions(contexts=4))
    try:
        urls = [site.url("/" + p) for p in pages]
        browser_tool = FetchTool(policy=site.policy, browser=pool)
        await browser_tool.observe(url=urls[0], mode="browser")  # launch outside the timing

        with PeakRSS() as rss:
            wall, per_page, results = await timed(
                urls, lambda u: browser_tool.observe(url=u, mode="browser"), 1
            )
        check(results, "browser")
        out["browser_pages_s"] = round(len(urls) / wall, 2)
        out["browser_median_page_s"] = round(statistics.median(per_page), 3)
        out["browser_peak_rss_mb"] = round(rss.peak_mb)

        # The same read with the guard proxy alone (no route handler, so the cache works).
        bare = BrowserPool(BrowserOptions(route_guard=False))
        bare_tool = FetchTool(policy=site.policy, browser=bare)
        await bare_tool.observe(url=urls[0], mode="browser")
        half = urls[: len(urls) // 2]
        wall, per_page, results = await timed(
            half, lambda u: bare_tool.observe(url=u, mode="browser"), 1
        )
        await io_loop().arun(bare.aclose())
        check(results, "proxy-only")
        out["proxy_only_pages_s"] = round(len(half) / wall, 2)
        out["proxy_only_median_page_s"] = round(statistics.median(per_page), 3)

        js_every = max(1, len(pages) // 10)
        mixed = [
            site.url(("/__js__/" if i % js_every == 0 else "/") + p) for i, p in enumerate(pages)
        ]
        with PeakRSS() as rss:
            wall, per_page, results = await timed(mixed, lambda u: browser_tool.observe(url=u), 4)
        check(results, "mixed")
        rendered = sum(obs.via == "browser" for obs in results)
        out["mixed_js_pages"] = sum("/__js__/" in u for u in mixed)
        out["mixed_rendered_in_browser"] = rendered
        out["mixed_pages_s"] = round(len(mixed) / wall, 2)
        out["mixed_median_page_s"] = round(statistics.median(per_page), 3)
        out["mixed_peak_rss_mb"] = round(rss.peak_mb)
        await io_loop().arun(pool.aclose())  # so the next peaks count one browser only

        slow_urls = [slow_site.url("/" + p) for p in pages[:16]]
        for contexts in (4, 1):
            lane = BrowserPool(BrowserOptions(contexts=contexts))
            tool = FetchTool(policy=slow_site.policy, browser=lane)
            await tool.observe(url=slow_urls[0], mode="browser")  # launch outside the timing
            with PeakRSS() as rss:
                wall, per_page, results = await timed(
                    slow_urls, lambda u, t=tool: t.observe(url=u, mode="browser"), contexts
                )
            await io_loop().arun(lane.aclose())
            check(results, f"pool{contexts}")
            out[f"pool{contexts}_pages_s"] = round(len(slow_urls) / wall, 2)
            out[f"pool{contexts}_median_page_s"] = round(statistics.median(per_page), 3)
            out[f"pool{contexts}_peak_rss_mb"] = round(rss.peak_mb)
        out["latency_pages"] = len(slow_urls)
    finally:
        await io_loop().arun(pool.aclose())
        site.stop()
        slow_site.stop()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--http-only", action="store_true", help="skip the browser rows")
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        sys.exit(f"{args.docs} not found: apt-get install python3.11-doc")
    began = time.perf_counter()
    if args.http_only:
        out = {"docs": str(args.docs), "pages": len(pick_pages(args.docs, args.pages))}
        out |= asyncio.run(run_http(args.docs, args.pages))
    else:
        out = asyncio.run(run(args.docs, args.pages))
    out["bench_s"] = round(time.perf_counter() - began, 1)
    out["anchors"] = ANCHORS
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    path = RESULTS.with_name("reading_http.json") if args.http_only else RESULTS
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")

    rows = [
        ("HTTP-first fetch, 1 at a time", "http", ANCHORS["http_pages_s"]),
        ("HTTP-first fetch, 4 at a time", "http_x4", None),
        ("  same, extraction in a thread", "http_thread_x4", None),
        ("  1 at a time, extraction in a thread", "http_thread", None),
        ("browser (Chromium), 1 at a time", "browser", ANCHORS["browser_pages_s"]),
        (f"  same, guard proxy only ({out['pages'] // 2} pages)", "proxy_only", None),
        (f"auto, 4 at a time, {out.get('mixed_js_pages')} JS pages", "mixed", None),
        ("browser, 0.5 s latency, pool of 4", "pool4", ANCHORS["pool4_pages_s"]),
        ("browser, 0.5 s latency, pool of 1", "pool1", ANCHORS["pool1_pages_s"]),
    ]
    print(
        f"page reading over {out['pages']} pages of {args.docs} (loopback), "
        f"load average {out['load_average_1m']} on {os.cpu_count()} CPUs"
    )
    head = f"  {'path':<38} {'pages/s':>8} {'median s/page':>14} {'CPU ms/page':>12}"
    print(head + f" {'peak RSS MB':>12} {'anchor':>7}")
    for label, key, anchor in rows:
        if f"{key}_pages_s" not in out:
            continue
        rss = out.get(f"{key}_peak_rss_mb", "")
        cpu = out.get(f"{key}_cpu_ms_per_page", "")
        print(
            f"  {label:<38} {out[f'{key}_pages_s']:>8} {out[f'{key}_median_page_s']:>14} "
            f"{cpu!s:>12} {rss!s:>12} {anchor if anchor is not None else '':>7}"
        )
    if "mixed_rendered_in_browser" in out:
        print(
            f"  mixed set: {out['mixed_rendered_in_browser']} of {out['pages']} "
            "rendered in a browser"
        )
    print(f"  took {out['bench_s']} s; wrote {path.relative_to(ROOT)}")
    return out


if __name__ == "__main__":
    main()
