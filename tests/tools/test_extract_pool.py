"""Extraction workers: they hold none of the reader's pipes, and end when the reader dies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A reader that extracts one page, reports its workers and dies without any cleanup.
_READER = """
import asyncio, json, os
from tools._extract_pool import extract_html_off_loop, extraction_pool
HTML = "<html><body><p>" + "Tide tables for Kerrow. " * 40 + "</p></body></html>"

async def main():  # two at once: the second goes to a worker
    return await asyncio.gather(*(extract_html_off_loop(HTML, "http://x.test/") for _ in "ab"))

pages = asyncio.run(main())
workers = list(extraction_pool()._processes)
print(json.dumps({"chars": len(pages[1].text), "workers": workers}), flush=True)
os._exit(0)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_end_with_a_reader_that_died_and_keep_none_of_its_pipes() -> None:
    # communicate() waits for end-of-file on the reader's stdout: a worker that
    # inherited that pipe would hold it open and this would time out.
    done = subprocess.run(
        [sys.executable, "-c", _READER],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=90,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["chars"] > 500
    workers = report["workers"]
    assert workers and all(pid != done.returncode for pid in workers)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "workers outlived the reader"
