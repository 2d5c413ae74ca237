"""``ponder run --search local`` on the Python docs served on loopback: a scripted model
plans searches and fetches of their top results; search (the FTS5 index over the docs)
and fetch (HTTP through the SSRF guard, opened for the one port) are real, and every
citation the answer keeps is checked against the page text fetch_url stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli_runner import finished_events, ponder, write_script
from bench.local_server import free_port
from tests.conftest import planning

DOCS = Path("/usr/share/doc/python3.11/html")
pytestmark = [
    pytest.mark.localweb,
    pytest.mark.skipif(
        not DOCS.is_dir(), reason="Debian's python3.11-doc is not installed (.ci/setup installs it)"
    ),
]


def _step(sid: str, tool: str, args: dict[str, object], deps: tuple[str, ...] = ()) -> dict:
    return {
        "id": sid,
        "goal": f"{tool} {args}",
        "tool": tool,
        "input": args,
        "depends_on": list(deps),
    }


def _claim(text: str, cite: str, quote: str) -> dict[str, object]:
    return {"text": text, "cites": [cite], "quote": quote}


CLAIMS = [
    _claim(
        "colorsys converts RGB to YIQ, HLS and HSV.",
        "s3.1",
        "three other coordinate systems: YIQ, HLS (Hue Lightness Saturation) and HSV",
    ),
    _claim(
        "rgb_to_hsv(0.2, 0.4, 0.4) returns (0.5, 0.5, 0.4).",
        "s3.3",
        ">>> colorsys.rgb_to_hsv(0.2, 0.4, 0.4)\n(0.5, 0.5, 0.4)",
    ),
    _claim(
        "fnmatch patterns are shell wildcards, not regular expressions.",
        "s4.1",
        "This module provides support for Unix shell-style wildcards, which are *not* the\nsame",
    ),
    _claim(
        # Worded close to the page: the support test is lexical ("leading" would not
        # match "starting").
        "Filenames starting with a period are not special to fnmatch.",
        "s4.2",
        "filenames starting with\na period are not special for this module",
    ),
    # A quote the page does not contain: the check must drop this citation.
    _claim(
        "fnmatch patterns are regular expressions.", "s4.1", "fnmatch patterns are full regexes"
    ),
]


def test_search_then_fetch_top_results_on_the_local_web_with_checked_citations(
    tmp_path: Path,
) -> None:
    port = free_port()
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [
                planning(
                    _step(
                        "s1",
                        "web_search",
                        {"query": "convert colors between RGB and HLS", "max_results": 2},
                    ),
                    _step(
                        "s2",
                        "web_search",
                        {"query": "Unix shell-style wildcards filenames", "max_results": 2},
                    ),
                    _step("s3", "fetch_url", {"url": "{{s1}}"}, ("s1",)),
                    _step("s4", "fetch_url", {"url": "{{s2}}"}, ("s2",)),
                )
            ],
            "Synthesis": [{"claims": CLAIMS, "gaps": []}],
        },
    )
    done = ponder(
        "run",
        "Which color systems does colorsys convert between, and how do fnmatch patterns work?",
        "--model", f"script:{script}",
        "--search", "local",
        "--local-web", str(DOCS),
        "--local-web-port", str(port),
        "--allow-host", f"127.0.0.1:{port}",
        "--tools", "web_search,fetch_url",
        "--effort", "medium",
        "--events", "jsonl",
        "--run-id", "lw",
        home=tmp_path,
        timeout=300,
    )  # fmt: skip
    stream = finished_events(done)
    finished = {e["step_id"]: e for e in stream if e["type"] == "step_finished"}
    assert sorted(finished) == ["s1", "s2", "s3", "s4"]
    assert {e["status"] for e in finished.values()} == {"done"}, finished
    assert {finished[s]["via"] for s in ("s1", "s2")} == {"local"}
    assert {finished[s]["via"] for s in ("s3", "s4")} == {"http"}
    base = f"http://127.0.0.1:{port}/"
    # The top result of each real search, fetched for real over loopback.
    fetched = {base + "library/colorsys.html", base + "library/fnmatch.html"}
    assert base + "library/colorsys.html" in finished["s3"]["summary"], finished["s3"]
    assert base + "library/fnmatch.html" in finished["s4"]["summary"], finished["s4"]

    check = next(e for e in stream if e["type"] == "citation_check")
    assert (check["kept"], check["checked"]) == (4, 5), check["rejected"]
    assert "not found" in check["rejected"][0]
    report = json.loads(ponder("show", "lw", "--json", home=tmp_path).stdout)
    cited = report["citations"]
    assert len(cited) == 4 and {c["source"] for c in cited} == fetched
    assert any("YIQ, HLS" in c["quote"] for c in cited)
