"""The demo model (SmolLM2-135M, llama.cpp in-process) on this machine.

Measures: model load time (in this process, and from a fresh interpreter);
prompt processing speed; generation speed free, under a JSON-schema grammar
with our sampler, and with llama-cpp-python's stock sampler chain; time to a
~300-token structured reply through ``with_structured_output``; and generation
speed by thread count. Each figure is the median of a few
runs with a fixed seed. Prints a table and writes ``bench/results/demo_model.json``.

    .venv/bin/python bench/demo_model.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.models._grammar import schema_gbnf  # noqa: E402
from agent.models._llama_engine import Finish, LlamaEngine, Sampling  # noqa: E402
from agent.models.demo import demo_gguf_path  # noqa: E402
from agent.models.llamacpp import ChatLlamaCpp  # noqa: E402

RESULTS = Path(__file__).with_name("results") / "demo_model.json"
STORY = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper."}]
LIST_SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "items": {"type": "string", "maxLength": 120},
            "minItems": 8,
            "maxItems": 8,
        }
    },
    "required": ["facts"],
}
CITIES = {
    "title": "Cities",
    "description": "Twelve cities with their country and a one-line note.",
    "type": "object",
    "properties": {
        "cities": {
            "type": "array",
            "minItems": 12,
            "maxItems": 12,
            "items": {
                "type": "object",
                "required": ["name", "country", "note"],
                "properties": {
                    "name": {"type": "string", "maxLength": 30},
                    "country": {"type": "string", "maxLength": 30},
                    "note": {"type": "string", "maxLength": 60},
                },
            },
        }
    },
    "required": ["cities"],
}


def _sampling(max_tokens: int) -> Sampling:
    return Sampling(
        temperature=0.2,
        top_p=0.95,
        top_k=40,
        min_p=0.05,
        repeat_penalty=1.1,
        max_tokens=max_tokens,
        seed=1,
    )


def _timed_generation(
    engine: LlamaEngine, turns: list[dict[str, str]], max_tokens: int, grammar: str | None = None
) -> dict[str, float]:
    """Seconds to the first piece, then generation speed over the rest."""
    began = time.perf_counter()
    first: float | None = None
    finish: Finish | None = None
    for event in engine.generate(turns, _sampling(max_tokens), grammar=grammar):
        if isinstance(event, Finish):
            finish = event
        elif first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    if finish is None or first is None:
        raise RuntimeError("the model produced nothing")
    return {
        "prompt_tokens": finish.prompt_tokens,
        "tokens": finish.completion_tokens,
        "first_piece_s": first - began,
        "tokens_per_s": (finish.completion_tokens - 1) / max(end - first, 1e-9),
    }


def _stock_constrained(
    engine: LlamaEngine, turns: list[dict[str, str]], max_tokens: int, grammar: str
) -> dict[str, float]:
    """llama-cpp-python's own path: the grammar inside the sampler chain, over the vocabulary.

    Counts streamed pieces, about one per token.
    """
    from llama_cpp.llama_grammar import LlamaGrammar

    pieces, first = 0, None
    with engine.lock:
        engine.llama.reset()
        for chunk in engine.llama.create_chat_completion(
            messages=turns,
            grammar=LlamaGrammar.from_string(grammar, verbose=False),
            max_tokens=max_tokens,
            temperature=0.2,
            repeat_penalty=1.1,
            seed=1,
            stream=True,
        ):
            if chunk["choices"][0]["delta"].get("content"):
                pieces += 1
                first = first or time.perf_counter()
    end = time.perf_counter()
    return {"tokens": pieces, "tokens_per_s": (pieces - 1) / max(end - (first or end), 1e-9)}


def _load_in_new_process() -> float:
    """Seconds from a fresh interpreter to a loaded demo model (imports included)."""
    code = (
        "import time; t = time.perf_counter(); from agent.models.demo import demo_model; "
        "demo_model(); print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    path = str(demo_gguf_path())
    cpus = os.cpu_count() or 1

    loads = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        model = ChatLlamaCpp(model_path=path)
        engine = model.load()
        loads.append(time.perf_counter() - began)
        if _ != args.repeats - 1:
            engine.close()
    load_s = statistics.median(loads)

    long_prompt = [{"role": "user", "content": "Summarise: " + "The quick brown fox. " * 120}]
    prompt_rows = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        row = _timed_generation(engine, long_prompt, 1)
        prompt_rows.append(
            {
                "prompt_tokens": row["prompt_tokens"],
                "tokens_per_s": row["prompt_tokens"] / (time.perf_counter() - began),
            }
        )
    prompt = _median(prompt_rows)

    free = _median([_timed_generation(engine, STORY, 200) for _ in range(args.repeats)])
    grammar = schema_gbnf(LIST_SCHEMA)
    facts = [{"role": "user", "content": "Give eight facts about the ocean as JSON."}]
    constrained = _median(
        [_timed_generation(engine, facts, 300, grammar) for _ in range(args.repeats)]
    )
    stock = _median([_stock_constrained(engine, facts, 300, grammar) for _ in range(args.repeats)])
    fresh_s = statistics.median(_load_in_new_process() for _ in range(args.repeats))

    structured = model.with_structured_output(CITIES, include_raw=True)
    replies = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        out = structured.invoke("List twelve cities of the world.", max_tokens=800, seed=1)
        usage = out["raw"].usage_metadata or {}
        replies.append(
            {
                "seconds": time.perf_counter() - began,
                "tokens": usage.get("output_tokens", 0),
                "valid": float(out["parsing_error"] is None),
            }
        )
    structured_row = _median(replies)

    by_threads = {}
    for threads in sorted({1, max(1, cpus // 2), cpus}):
        other = ChatLlamaCpp(model_path=path, n_threads=threads).load()
        by_threads[threads] = _median(
            [_timed_generation(other, STORY, 120) for _ in range(args.repeats)]
        )["tokens_per_s"]
        other.close()

    result = {
        "model": Path(path).name,
        "cpus": cpus,
        "default_threads": max(1, cpus // 2),
        "load_s": round(load_s, 3),
        "load_in_new_process_s": round(fresh_s, 3),
        "prompt_processing": prompt,
        "generation_free": free,
        "generation_json_schema": constrained,
        "generation_json_schema_stock_sampler": stock,
        "structured_reply_300_tokens": structured_row,
        "tokens_per_s_by_threads": by_threads,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(
        f"demo model {result['model']} on {cpus} CPUs "
        f"(load average {result['load_average_1m']}), median of {args.repeats}"
    )
    print(f"  {'load (file cached)':36} {load_s:8.2f} s")
    print(f"  {'new process to loaded model':36} {fresh_s:8.2f} s")
    print(
        f"  {'prompt processing':36} {prompt['tokens_per_s']:8.1f} tok/s "
        f"({prompt['prompt_tokens']:.0f}-token prompt)"
    )
    print(
        f"  {'generation, free':36} {free['tokens_per_s']:8.1f} tok/s "
        f"(first piece {free['first_piece_s']:.2f} s)"
    )
    print(
        f"  {'generation, JSON-schema grammar':36} {constrained['tokens_per_s']:8.1f} tok/s "
        f"(first piece {constrained['first_piece_s']:.2f} s)"
    )
    print(
        f"  {'  same, grammar over the whole vocab':36} {stock['tokens_per_s']:8.1f} tok/s "
        "(llama-cpp-python's sampler chain)"
    )
    print(
        f"  {'structured reply (with_structured_output)':36} "
        f"{structured_row['seconds']:8.2f} s for {structured_row['tokens']:.0f} tokens, "
        f"valid {structured_row['valid']:.0%}"
    )
    for threads, speed in by_threads.items():
        print(f"  {f'generation with {threads} thread(s)':36} {speed:8.1f} tok/s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
