"""Faster reading must read the same text: extraction of 50 Python-docs pages against a
snapshot taken before extraction moved to worker processes (tests/tools/data)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bench.docsite import DocSite
from bench.reading import DOCS, pick_pages
from tools import _extract_pool
from tools._extract import extract_html, page_observation
from tools.fetch import FetchOptions, FetchTool, decode_body

SNAPSHOT = json.loads((Path(__file__).parent / "data" / "extract_snapshot.json").read_text())
_IN_PROCESSES = FetchOptions(extract_in_processes=True)  # the CLI's choice

pytestmark = pytest.mark.skipif(
    not DOCS.is_dir(), reason=f"{DOCS} missing: apt-get install python3.11-doc"
)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _digest(page: Any) -> dict[str, Any]:
    links = [[link.number, link.text, link.url] for link in page.links]
    obs = page_observation("fetch_url", page, via="http", max_chars=20_000)
    return {
        "title": page.title,
        "text": _hash(page.text),
        "text_chars": len(page.text),
        "plain": _hash(page.plain),
        "links": _hash(json.dumps(links)),
        "content": _hash(obs.content),
    }


def test_the_snapshot_covers_the_benchmark_pages() -> None:
    assert sorted(SNAPSHOT) == sorted(pick_pages(DOCS, 50))


def test_extracted_text_of_the_docs_pages_is_unchanged() -> None:
    changed = []
    for page in pick_pages(DOCS, 50):
        text = decode_body((DOCS / page).read_bytes(), "text/html", html=True)
        if _digest(extract_html(text, "http://docs.test/" + page)) != SNAPSHOT[page]:
            changed.append(page)
    assert not changed, f"extraction changed on {len(changed)} pages: {changed[:5]}"


def _read_all(tool: FetchTool, site: DocSite, pages: list[str]) -> list[Any]:
    async def go() -> list[Any]:
        gate = asyncio.Semaphore(4)

        async def one(page: str) -> Any:
            async with gate:
                return await tool.observe(url=site.url("/" + page), mode="http")

        return await asyncio.gather(*(one(p) for p in pages))

    return asyncio.run(go())


def test_four_reads_at_once_in_worker_processes_read_the_snapshot_text() -> None:
    _extract_pool.shutdown_extraction_pool()
    pages = pick_pages(DOCS, 50)
    site = DocSite(DOCS)
    try:
        observations = _read_all(FetchTool(policy=site.policy, options=_IN_PROCESSES), site, pages)
    finally:
        site.stop()
    pool = _extract_pool.extraction_pool()
    assert pool is not None and pool._processes, "no worker processes were started"
    assert all(pid != os.getpid() for pid in pool._processes)
    for page, obs in zip(pages, observations, strict=True):
        assert obs.ok, obs.error
        (text,) = obs.documents.values()
        assert _hash(text) == SNAPSHOT[page]["text"], page


def test_a_worker_killed_mid_read_falls_back_to_a_thread_with_the_same_text() -> None:
    _extract_pool.shutdown_extraction_pool()
    pages = pick_pages(DOCS, 50)[:6]
    site = DocSite(DOCS)
    tool = FetchTool(policy=site.policy, options=_IN_PROCESSES)
    try:
        _read_all(tool, site, pages[:4])  # four at once: starts the workers
        pool = _extract_pool.extraction_pool()
        assert pool is not None
        for pid in list(pool._processes):  # workers this test started
            os.kill(pid, signal.SIGKILL)
        observations = _read_all(tool, site, pages)
        assert _extract_pool.extraction_pool() is None, "a broken pool must not be reused"
    finally:
        site.stop()
        _extract_pool.shutdown_extraction_pool()
    for page, obs in zip(pages, observations, strict=True):
        assert obs.ok, obs.error
        assert _hash(next(iter(obs.documents.values()))) == SNAPSHOT[page]["text"], page


def test_a_page_read_alone_is_extracted_in_a_thread() -> None:
    _extract_pool.shutdown_extraction_pool()
    site = DocSite(DOCS)
    try:
        page = pick_pages(DOCS, 50)[1]
        (obs,) = _read_all(FetchTool(policy=site.policy, options=_IN_PROCESSES), site, [page])
    finally:
        site.stop()
    assert _hash(next(iter(obs.documents.values()))) == SNAPSHOT[page]["text"]
    assert _extract_pool._pool is None, "one page at a time needs no worker"


def test_thread_mode_starts_no_worker_processes() -> None:
    _extract_pool.shutdown_extraction_pool()
    site = DocSite(DOCS)
    tool = FetchTool(policy=site.policy, options=FetchOptions(extract_in_processes=False))
    try:
        page = pick_pages(DOCS, 50)[0]
        (obs,) = _read_all(tool, site, [page])
    finally:
        site.stop()
    assert _hash(next(iter(obs.documents.values()))) == SNAPSHOT[page]["text"]
    assert _extract_pool._pool is None


def test_a_library_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """Workers import the caller's main module; by default a library user's script
    (no ``if __name__ == "__main__":``) must not be run again by reading pages at once."""
    marker = tmp_path / "ran.txt"
    script = tmp_path / "user_script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio
            from bench.docsite import DocSite
            from bench.reading import DOCS, pick_pages
            from tools.fetch import FetchTool

            with open({str(marker)!r}, "a") as out:
                out.write("ran\\n")
            site = DocSite(DOCS)
            tool = FetchTool(policy=site.policy)
            pages = pick_pages(DOCS, 4)

            async def go():
                return await asyncio.gather(
                    *(tool.observe(url=site.url("/" + p), mode="http") for p in pages)
                )

            print(len([o for o in asyncio.run(go()) if o.ok and o.content]))
            site.stop()
            """
        )
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "4"
    assert marker.read_text().splitlines() == ["ran"]
