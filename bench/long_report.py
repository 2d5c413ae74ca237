"""Short answer against long report on the local web, with a model that takes API time.

The Python docs are served on loopback and searched locally (`bench.localweb`); a run
searches once, fans out over the top N results with real fetches, then writes either
the short answer (one synthesis call) or the long report (outline, sections at once,
summary). The writer is a scripted model with a fixed delay per call (``--latency``,
about an API model's time to first token plus a short reply) that writes *extractive*
claims: each claim is a prose sentence of a passage in its prompt, cited by that
passage's id. So the citation check still runs for real (quote found, support judged),
and the verified-claim rate measures the pipeline, not a model's honesty.

With notes on, every page read costs one more model call (the same extractive script: its
first prose sentences, each quoted), made inside the step; ``--fast-model`` gives those calls
to a second scripted model with its own, shorter delay (``--fast-latency``). The first row
reads 5 pages with no notes, as a run did before notes: the depth goal is 20 pages read and
noted in under 1.5 times its wall time.

Reports, per configuration: wall time, model calls per role, tokens, pages read, pages
noted, sources cited, verified citations. Writes ``bench/results/long_report.json``.

    .venv/bin/python -m bench.long_report [--pages 20] [--latency 1.5] [--fast-latency 0.5]
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


def _notes(prompt: str) -> dict[str, Any]:
    """Up to three notes a page: its first prose sentences, each quoted as it stands."""
    notes = []
    for _, text in _PASSAGE.findall(prompt):
        said = [" ".join(text[a:b].split()) for a, b in sentences(text)]
        notes += [{"quote": q, "fact": q} for q in said if _PROSE.match(q)][:3]
    return {"notes": notes}


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
        if role == "Notes":
            return _notes(prompt)
        return _extractive(prompt, 6 if role == "Section" else 12)

    return FunctionChatModel(fn=reply, latency_s=latency_s)


def run_once(
    kind: ReportKind,
    *,
    pages: int,
    latency_s: float,
    home: Path,
    notes: bool = False,
    fast_latency_s: float | None = None,
) -> dict[str, Any]:
    """One run on the local web; its measured figures. ``fast_latency_s`` adds a fast model."""
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
            extract_in_processes=True,  # as `ponder run` reads pages (this module is guarded)
        )
    )
    settings = Settings(
        report=kind,
        effort="medium",
        notes=notes,
        web_search=web,
        budgets=Budgets(max_steps=pages + 8, max_model_calls=16 + (pages if notes else 0)),
    )
    model = writer(pages, latency_s)
    fast = writer(pages, fast_latency_s) if fast_latency_s is not None else None
    graph = build_research_graph(
        model,
        list(box.tools),
        checkpointer=InMemorySaver(serde=checkpoint_serde()),
        fast_model=fast,
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
        "notes": notes,
        "fast_model": fast is not None,
        "status": state["status"],
        "wall_s": round(wall, 2),
        "model_calls": {role: u.model_calls for role, u in usage.by_role().items()},
        "model_calls_by_node": {node: u.model_calls for node, u in usage.by_node.items()},
        "pages_noted": sum(1 for r in read if r.notes),
        "tokens": usage.tokens,
        "pages_read": len(read),
        "sources_cited": len(cited),
        "citations_verified": answer.tally.supported,
        "citations_checked": answer.tally.checked,
        "sections": len(answer.sections),
    }


# (label, report kind, pages, notes, fast model): the first row is the depth goal's yardstick.
CONFIGS: tuple[tuple[str, ReportKind, int | None, bool, bool], ...] = (
    ("short, 5 pages", "short", 5, False, False),
    ("short", "short", None, False, False),
    ("long", "long", None, False, False),
    ("short + notes", "short", None, True, False),
    ("short + notes, fast model", "short", None, True, True),
    ("long + notes", "long", None, True, False),
    ("long + notes, fast model", "long", None, True, True),
)


def measure_depth(
    pages: int = 20, latency_s: float = 1.5, fast_latency_s: float = 0.5, log: Any = print
) -> dict[str, Any]:
    """Every configuration once, and each noted row's wall over the 5-page yardstick's."""
    if not PYTHON_DOCS.is_dir():
        raise FileNotFoundError(f"{PYTHON_DOCS} not found (python3.11-doc; .ci/setup installs it)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # builds the search index and starts the extraction workers (a batch of one page
        # stays in a thread), so no measured row pays for either
        run_once("short", pages=4, latency_s=0.0, home=Path(tmp))
        for label, kind, n, notes, fast in CONFIGS:
            row = run_once(
                kind,
                pages=n or pages,
                latency_s=latency_s,
                home=Path(tmp),
                notes=notes,
                fast_latency_s=fast_latency_s if fast else None,
            )
            rows.append({"label": label, **row})
            calls = ", ".join(f"{k} {c}" for k, c in row["model_calls"].items())
            log(
                f"{label:26} {row['status']:10} {row['wall_s']:6.2f} s  read "
                f"{row['pages_read']:2}  noted {row['pages_noted']:2}  cited "
                f"{row['sources_cited']:2}  verified "
                f"{row['citations_verified']}/{row['citations_checked']}  "
                f"{row['tokens']} tokens  calls: {calls}"
            )
    base = rows[0]["wall_s"]
    return {
        "pages": pages,
        "latency_s": latency_s,
        "fast_latency_s": fast_latency_s,
        "runs": rows,
        "over_five": {r["label"]: round(r["wall_s"] / base, 2) for r in rows[3:]},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--latency", type=float, default=1.5, help="seconds per model call")
    parser.add_argument(
        "--fast-latency", type=float, default=0.5, help="seconds per fast-model call"
    )
    args = parser.parse_args(argv)
    try:
        out = measure_depth(args.pages, args.latency, args.fast_latency)
    except FileNotFoundError as exc:
        sys.exit(f"long_report: {exc}")
    for label, ratio in out["over_five"].items():
        print(f"{label}: {ratio:.2f}x the wall time of reading 5 pages")
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
