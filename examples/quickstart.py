"""Quickstart: research the bundled example corpus with the offline demo model.

    python examples/quickstart.py ["your question"]

The demo model (SmolLM2-135M, in-process through llama.cpp) needs no API key
and no network; it is tiny, so expect a weak answer in about a minute, often
with every claim marked unsupported. Every citation is checked: its quote must
be in the stored text of the document it names, and that sentence must state
the claim. Swap ``resolve_model("demo")`` for ``resolve_model("openai:gpt-4o-mini")``
(or any spec ``ponder run --model`` takes) for a real answer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agent import Settings, default_store_path, resolve_model
from graphs import build_research_graph
from tools import CorpusOptions, corpus_tools

CORPUS = Path(__file__).resolve().parent / "corpus"
TASK = "How does asyncio.gather handle exceptions, and how does TaskGroup differ?"


def main() -> None:
    task = " ".join(sys.argv[1:]) or TASK
    # The index lives where `ponder run --corpus` keeps its own, so both share it.
    index_dir = default_store_path(os.environ).parent / "corpus-index"
    tools = corpus_tools(CorpusOptions(root=CORPUS, index_dir=index_dir))
    graph = build_research_graph(resolve_model("demo"), tools, settings=Settings(effort="medium"))

    print(f"Task: {task}\n")
    out = graph.invoke({"task": task})
    answer = out["answer"]
    print(answer.markdown)
    print(f"\nstatus: {out['status']} ({out['stop_reason']})")
    print(f"model calls: {out['usage'].model_calls}, tool calls: {out['usage'].tool_calls}")
    files = {p.name for p in CORPUS.iterdir()}
    cited = sorted({c.source.split("#")[0] for c in answer.citations})
    print(f"cited documents: {', '.join(cited) or 'none'}")
    if not set(cited) <= files:
        raise SystemExit("a citation points outside the corpus")


if __name__ == "__main__":
    main()
