"""Page extraction off the event loop, in worker processes.

trafilatura is pure-Python work that holds the GIL (about 70 ms of CPU for a
Python-docs page, 95% of an HTTP read), so a thread keeps the loop free but
still extracts one page at a time. Worker processes, one per core, extract
several pages at once. Workers are forked (POSIX): they start with
trafilatura already imported and never re-run the user's ``__main__``, as
spawn and forkserver workers do (an unguarded script would start its agent
again in every worker). A forked child keeps only the forking thread; it runs
nothing but ``extract_html``, and CPython re-initialises the locks it needs
(import, logging) after a fork. Where processes cannot start (no fork, no
``/dev/shm``) or the pool broke, extraction stays in a thread for the rest of
the process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from tools._extract import PageText, extract_html

__all__ = [
    "extract_html_off_loop",
    "extraction_pool",
    "extraction_workers",
    "shutdown_extraction_pool",
]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_broken = False


def extraction_workers() -> int:
    """One worker per core: more would only queue on the same CPUs."""
    return max(1, min(8, os.cpu_count() or 1))


def extraction_pool() -> ProcessPoolExecutor | None:
    """The shared pool of extraction workers, started on first use; None in thread mode."""
    global _pool, _broken
    with _lock:
        if _pool is None and not _broken:
            try:
                context = multiprocessing.get_context("fork")
                _pool = ProcessPoolExecutor(extraction_workers(), mp_context=context)
            except (OSError, ValueError, ImportError) as exc:
                _log.warning("page extraction stays in a thread: %s", exc)
                _broken = True
        return _pool


def _drop_pool(pool: ProcessPoolExecutor) -> None:
    global _pool, _broken
    with _lock:
        _broken = True
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown_extraction_pool() -> None:
    """Stop the workers; the next extraction starts new ones (even after a broken pool)."""
    global _pool, _broken
    with _lock:
        pool, _pool, _broken = _pool, None, False
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


async def extract_html_off_loop(html: str, url: str, *, processes: bool = True) -> PageText:
    """`extract_html` in a worker process (or a thread), never on the event loop."""
    pool = extraction_pool() if processes else None
    if pool is not None:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, extract_html, html, url)
        except BrokenProcessPool as exc:  # a worker died (the OOM killer): stay in threads
            _log.warning("page extraction pool broke, extracting in a thread: %s", exc)
            _drop_pool(pool)
    return await asyncio.to_thread(extract_html, html, url)
