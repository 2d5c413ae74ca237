"""A long-report run killed mid-fan-out resumes with ``ponder resume``: the pages already read
are not fetched again, the unfinished one is, and the report is written from all four.

A small site on loopback: an index page whose four links the plan fans out over
(``for_each: "s1.links[:4]"``); the fourth page does not answer until the test lets it, so
the run is killed (SIGKILL) while three children are checkpointed and one is in flight.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.testing import plan_step
from bench.cli_runner import events, ponder, start, write_script
from tests.conftest import planning

SAID = {
    "/red.html": "Red light has the longest wavelength of the colours people can see.",
    "/green.html": "Green light sits in the middle of the visible spectrum.",
    "/blue.html": "Blue light has a shorter wavelength than green light.",
    "/violet.html": "Violet light has the shortest wavelength of the visible colours.",
}
SLOW = "/violet.html"


class _Site(ThreadingHTTPServer):
    daemon_threads = True
    release: threading.Event
    fetched: list[str]  # paths, in the order they were asked for


class _Pages(BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:
        self.server.fetched.append(self.path)
        if self.path == SLOW:
            self.server.release.wait(timeout=60)
        if self.path == "/index.html":
            links = "".join(f'<li><a href="{p}">{p[1:-5]}</a></li>' for p in SAID)
            body = f"<html><head><title>Colours</title></head><body><ul>{links}</ul></body></html>"
        elif self.path in SAID:
            name = self.path[1:-5].capitalize()
            body = (
                f"<html><head><title>{name}</title></head><body><h1>{name}</h1>"
                f"<p>{SAID[self.path]}</p></body></html>"
            )
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def site() -> Iterator[_Site]:
    server = _Site(("127.0.0.1", 0), _Pages)
    server.release = threading.Event()
    server.fetched = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def _claims(*paths: str) -> dict[str, Any]:
    return {"claims": [{"text": SAID[p], "quote": SAID[p]} for p in paths]}


REPORT = {
    "Outline": [
        {
            "title": "Colours by wavelength",
            "sections": [
                {"title": "Long waves", "evidence": ["s2.1.1", "s2.2.1"]},
                {"title": "Short waves", "evidence": ["s2.3.1", "s2.4.1"]},
            ],
        }
    ],
    "Section": [_claims("/red.html", "/green.html"), _claims("/blue.html", "/violet.html")],
    "ReportSummary": [_claims("/violet.html")],
}


def test_a_long_report_killed_mid_fan_out_resumes_without_refetching(
    tmp_path: Path, site: _Site
) -> None:
    port = site.server_address[1]
    base = f"http://127.0.0.1:{port}"
    plan = planning(
        plan_step("s1", "fetch_url", {"url": f"{base}/index.html"}),
        plan_step("s2", "fetch_url", {"url": "{{item.url}}"}, for_each="s1.links[:4]"),
    )
    script = write_script(tmp_path / "model.json", {"Planning": [plan], **REPORT})
    args = [
        "run", "Which colours have the longest and shortest wavelengths?",
        "--model", f"script:{script}",
        "--report", "long",
        "--search", "web",
        "--tools", "fetch_url",
        "--allow-host", f"127.0.0.1:{port}",
        "--events", "jsonl",
        "--run-id", "colours",
    ]  # fmt: skip
    proc = start(*args, home=tmp_path)
    fast = [f"s2.{i}" for i in (1, 2, 3)]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until three children are checkpointed
            shown = ponder("show", "colours", "--json", home=tmp_path)
            if shown.returncode == 0:
                saved = json.loads(shown.stdout)
                steps = {s["id"]: s["status"] for p in saved["plans"] for s in p["steps"]}
                if all(steps.get(c) == "done" for c in fast):
                    break
            time.sleep(0.3)
        else:
            raise AssertionError("the fast children never reached the checkpoint")
        assert proc.poll() is None, "the run finished before it could be killed"
        assert steps.get("s2.4") != "done"
        os.kill(proc.pid, signal.SIGKILL)
        first_out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    started_before = {e["step_id"] for e in events(first_out) if e["type"] == "step_started"}
    assert started_before == {"s1", "s2.1", "s2.2", "s2.3", "s2.4"}

    site.release.set()
    fetched_before = list(site.fetched)
    write_script(script, REPORT)  # no planning reply: a replan would fail the resumed run
    resumed = ponder("resume", "colours", "--events", "jsonl", home=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    stream = events(resumed.stdout)
    assert [e["step_id"] for e in stream if e["type"] == "step_started"] == ["s2.4"]
    assert site.fetched[len(fetched_before) :] == [SLOW]  # the read pages were not fetched again

    report = json.loads(ponder("show", "colours", "--json", home=tmp_path).stdout)
    assert report["status"] == "done"
    assert [s["title"] for s in report["sections"]] == ["Long waves", "Short waves"]
    assert {r["source"] for r in report["references"]} == {base + p for p in SAID}
    check = report["citation_check"]
    assert (check["supported"], check["checked"]) == (5, 5), check
    # Budgets hold across the kill: usage is counted in the checkpoint, not per process.
    assert report["usage"]["model_calls"] == 5  # plan, outline, two sections, summary
