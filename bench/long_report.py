"""Short answer against long report on the local web, with a model that takes API time.

The Python docs are served on loopback and searched locally (`bench.localweb`); a run
searches once, fans out over the top N results with real fetches, then writes either
the short answer (one synthesis call) or the long report (outline, sections at once,
summary). The writer is a scripted model with a fixed delay per call (``--latency``,
about an API model's time to first token plus a short reply) that writes *extractive*
claims: each claim is a prose sentence of a passage in its prompt, cited by that
passage's id. So the citation check still runs for real (quote found, support judged),
and the verified-claim rate measures the pipeline, not a model's honesty.

Reports, per kind: wall time, model calls per node, tokens, pages read, sources cited,
verified citations. Writes ``bench/results/long_report.json``.

    .venv/bin/python -m bench.long_report [--pages 20] [--latency 1.5]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent.checkpointing import checkpoint_serde
from agent.settings import Budgets, ReportKind, Settings, WebSearchSettings
from agent.support import sentences
from agent.testing import FunctionChatModel, plan_step, planning_reply
from bench.local_server import free_port
from bench.localweb import PYTHON_DOCS
from graphs.research import build_research_graph
from tools.toolbox import ToolboxOptions, build_toolbox

__all__ = ["main", "run_once"]

RESULTS = Path(__file__).with_name("results") / "long_report.json"
TASK = "How do asyncio tasks, timeouts and cancellation work together?"
QUERY = "asyncio task cancellation timeout"
_PASSAGE = re.compile(
    r'<untrusted_data id="([^"]+)" source="[^"]*">\n(.*?)\n</untrusted_data>', re.S
)
_PROSE = re.compile(r"^[A-Z][^{}()=#`*_\[\]|<>\\]{40,220}[.]$")


def _prose(text: str) -> str | None:
    """The passage's first plain sentence (no code, no markup), if it has one."""
    for a, b in sentences(text):
        sentence = " ".join(text[a:b].split())
        if _PROSE.match(sentence):
            return sentence
    return None


def _extractive(prompt: str, limit: int) -> dict[str, Any]:
    claims = []
    for pid, text in _PASSAGE.findall(prompt):
        said = _prose(text)
        if said and said not in (c["text"] for c in claims):
            claims.append({"text": said, "cites": [pid], "quote": said})
        if len(claims) == limit:
            break
    return {"claims": claims or [{"text": "Nothing quotable.", "cites": []}], "gaps": []}


def _outline(prompt: str, sections: int) -> dict[str, Any]:
    pages: dict[str, list[str]] = {}
    for pid in re.findall(r'<untrusted_data id="(s2\.\d+\.\d+)"', prompt):
        pages.setdefault(pid.rsplit(".", 1)[0], []).append(pid)
    parts: list[list[str]] = [[] for _ in range(sections)]
    for i, ids in enumerate(pages.values()):
        parts[i % sections].extend(ids)
    return {
        "title": "Tasks, timeouts and cancellation",
        "sections": [
            {"title": f"Part {i + 1}", "focus": "", "evidence": ids[:8]}
            for i, ids in enumerate(parts)
            if ids
        ],
    }


def writer(pages: int, latency_s: float, sections: int = 4) -> FunctionChatModel:
    """The scripted planner and extractive writer described in the module docstring."""

    def reply(messages: list[BaseMessage], role: str) -> Any:
        prompt = "\n".join(str(m.content) for m in messages)
        if role == "Planning":
            return planning_reply(
                plan_step("s1", "web_search", {"query": QUERY, "max_results": pages}),
                plan_step(
                    "s2", "fetch_url", {"url": "{{item.url}}"}, for_each=f"s1.results[:{pages}]"
                ),
            )
        if role == "Outline":
            return _outline(prompt, sections)
        if role == "ReportSummary":
            return _extractive(prompt, 2)
        return _extractive(prompt, 6 if role == "Section" else 12)

    return FunctionChatModel(fn=reply, latency_s=latency_s)


def run_once(kind: ReportKind, *, pages: int, latency_s: float, home: Path) -> dict[str, Any]:
    """One run on the local web; its measured figures."""
    port = free_port()
    web = WebSearchSettings(engines=("local",), local_web=str(PYTHON_DOCS), local_web_port=port)
    box = build_toolbox(
        ToolboxOptions(
            search="web",
            corpus=None,
            index_dir=home / "index",
            allow_hosts=(f"127.0.0.1:{port}",),
            only=("web_search", "fetch_url"),
            web_search=web,
        )
    )
    settings = Settings(
        report=kind,
        effort="medium",
        web_search=web,
        budgets=Budgets(max_steps=pages + 8, max_model_calls=16),
    )
    model = writer(pages, latency_s)
    graph = build_research_graph(
        model, list(box.tools), checkpointer=InMemorySaver(serde=checkpoint_serde())
    )
    thread = {"configurable": {"thread_id": uuid.uuid4().hex}}
    t0 = time.monotonic()
    graph.invoke({"task": TASK}, thread, context={"settings": settings})
    wall = time.monotonic() - t0
    state = graph.get_state(thread).values
    answer = state["answer"]
    usage = state["usage"]
    read = [r for sid, r in state["steps"].items() if sid.startswith("s2.") and r.ok]
    cited = {c.source for c in answer.citations if c.kind == "document"}
    return {
        "kind": kind,
        "status": state["status"],
        "wall_s": round(wall, 2),
        "model_calls": {node: u.model_calls for node, u in usage.by_node.items()},
        "tokens": usage.tokens,
        "pages_read": len(read),
        "sources_cited": len(cited),
        "citations_verified": answer.tally.supported,
        "citations_checked": answer.tally.checked,
        "sections": len(answer.sections),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--latency", type=float, default=1.5, help="seconds per model call")
    args = parser.parse_args(argv)
    if not PYTHON_DOCS.is_dir():
        sys.exit(f"long_report: {PYTHON_DOCS} not found (install python3.11-doc; .ci/setup does)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run_once("short", pages=1, latency_s=0.0, home=Path(tmp))  # builds the search index
        for kind in ("short", "long"):
            row = run_once(kind, pages=args.pages, latency_s=args.latency, home=Path(tmp))
            rows.append(row)
            calls = ", ".join(f"{n} {c}" for n, c in row["model_calls"].items())
            print(
                f"{kind:5} {row['status']:10} {row['wall_s']:6.2f} s  pages read "
                f"{row['pages_read']:2}  cited {row['sources_cited']:2}  verified "
                f"{row['citations_verified']}/{row['citations_checked']}  "
                f"{row['tokens']} tokens  calls: {calls}"
            )
    RESULTS.write_text(
        json.dumps({"pages": args.pages, "latency_s": args.latency, "runs": rows}, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
