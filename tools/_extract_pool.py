"""Page extraction off the event loop, in worker processes.

trafilatura is pure-Python work that holds the GIL (about 70 ms of CPU for a
Python-docs page, 95% of an HTTP read), so a thread keeps the loop free but
still extracts one page at a time. A thread plus one worker process per other
core extract several pages at once. Workers come from a forkserver: a fresh interpreter
that has imported trafilatura once, so a new worker costs a fork, and it holds
none of the reader's threads, locks or file descriptors (a plain fork would
keep the pipes of whatever the process was running, so another process
waiting for their end-of-file would wait for ever). As with any
multiprocessing start, a script run by path must keep its work under
``if __name__ == "__main__":``, because workers import the main module.
Workers end within a second of the process that started them. Where processes cannot
start, or the pool broke, extraction stays in a thread for the rest of the
process.
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
_thread_busy = False  # an extraction is running in this process's thread


def extraction_workers() -> int:
    """One worker per core but one: the reading process extracts too (see below)."""
    return max(1, min(8, (os.cpu_count() or 1) - 1))


def _end_with_reader() -> None:
    """End this worker when the reading process ends, even if it was killed: a
    forkserver worker is not its child, and would otherwise wait for work for ever.
    The reader's sentinel pipe closes when it exits (a zombie included)."""
    reader = multiprocessing.parent_process()
    if reader is None:
        return

    def watch() -> None:
        reader.join()
        os._exit(0)

    threading.Thread(target=watch, name="reader-watch", daemon=True).start()


def extraction_pool() -> ProcessPoolExecutor | None:
    """The shared pool of extraction workers, started on first use; None in thread mode."""
    global _pool, _broken
    with _lock:
        if _pool is None and not _broken:
            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["tools._extract"])
                _pool = ProcessPoolExecutor(
                    extraction_workers(),
                    mp_context=context,
                    initializer=_end_with_reader,
                )
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
    """`extract_html` in a thread, or in a worker process while the thread is busy.

    A page read alone gains nothing from a worker and pays for the hand-over
    (pickling, two wake-ups: about 10-25 ms of CPU on a loaded machine), so
    the first extraction runs in a thread of this process; pages read at the
    same time meanwhile go to the workers, one per other core.
    """
    global _thread_busy
    if not processes:
        return await asyncio.to_thread(extract_html, html, url)
    with _lock:
        use_thread = not _thread_busy
        _thread_busy = True
    if use_thread:
        try:
            return await asyncio.to_thread(extract_html, html, url)
        finally:
            with _lock:
                _thread_busy = False
    pool = extraction_pool()
    if pool is not None:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, extract_html, html, url)
        except BrokenProcessPool as exc:  # a worker died (the OOM killer): stay in threads
            _log.warning("page extraction pool broke, extracting in a thread: %s", exc)
            _drop_pool(pool)
    return await asyncio.to_thread(extract_html, html, url)
