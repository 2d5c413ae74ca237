"""Fan-out on the local web: a real search, then ``for_each`` fetches its top five results.

The Python docs are served on loopback; search (FTS5 over the docs) and fetch (HTTP through
the SSRF guard, opened for the one port) are real; the scripted model plans and writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.testing import plan_step
from bench.cli_runner import finished_events, ponder, write_script
from bench.local_server import free_port
from tests.conftest import planning

DOCS = Path("/usr/share/doc/python3.11/html")
pytestmark = pytest.mark.skipif(
    not DOCS.is_dir(), reason="Debian's python3.11-doc is not installed (.ci/setup installs it)"
)
QUOTE = "three other coordinate systems: YIQ, HLS (Hue Lightness Saturation) and HSV"


def test_search_then_fetch_each_of_the_top_five_results(tmp_path: Path) -> None:
    port = free_port()
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [
                planning(
                    plan_step(
                        "s1",
                        "web_search",
                        {"query": "convert colors between RGB and HLS", "max_results": 5},
                    ),
                    plan_step(
                        "s2", "fetch_url", {"url": "{{item.url}}"}, for_each="s1.results[:5]"
                    ),
                )
            ],
            "Synthesis": [
                {
                    "claims": [
                        {
                            "text": "colorsys converts RGB to YIQ, HLS and HSV.",
                            "cites": ["s2.1.1"],
                            "quote": QUOTE,
                        }
                    ],
                    "gaps": [],
                }
            ],
        },
    )
    done = ponder(
        "run", "Which color systems does colorsys convert between?",
        "--model", f"script:{script}",
        "--search", "local",
        "--local-web", str(DOCS),
        "--local-web-port", str(port),
        "--allow-host", f"127.0.0.1:{port}",
        "--tools", "web_search,fetch_url",
        "--effort", "medium",
        "--events", "jsonl",
        "--run-id", "fan",
        home=tmp_path,
        timeout=300,
    )  # fmt: skip
    stream = finished_events(done)
    finished = {e["step_id"]: e for e in stream if e["type"] == "step_finished"}
    children = [f"s2.{i}" for i in range(1, 6)]
    assert sorted(finished) == ["s1", *children], sorted(finished)
    assert all(finished[c]["status"] == "done" and finished[c]["via"] == "http" for c in children)
    started = {e["step_id"]: e for e in stream if e["type"] == "step_started"}
    base = f"http://127.0.0.1:{port}/"
    urls = [str(started[c]["input"]["url"]) for c in children]
    assert len(set(urls)) == 5 and all(u.startswith(base) for u in urls), urls
    assert urls[0] == base + "library/colorsys.html"

    check = next(e for e in stream if e["type"] == "citation_check")
    assert (check["kept"], check["checked"]) == (1, 1), check
    report = json.loads(ponder("show", "fan", "--json", home=tmp_path).stdout)
    assert [c["source"] for c in report["citations"]] == [base + "library/colorsys.html"]
