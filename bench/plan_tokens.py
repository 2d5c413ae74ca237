"""Plan output tokens per step: the same plans written as JSON and as compact lines.

The plans are B1's (``bench.workloads.fanout``): N searches, then N fetches of
each search's top URL, with a goal per step and the planner's triage and
reasoning around them. Each is sent as the model would send it (the forced
tool call's JSON arguments; a compact plan is one JSON string field) and
counted two ways: with the demo model's own tokenizer (SmolLM2, loaded
vocabulary-only) and with the bench meter's four-characters-a-token estimate,
which is what B1's injected latency charges. "per step" is the whole reply
over its steps; "steps only" leaves out the envelope (triage, reasoning).

``python -m bench.plan_tokens`` prints one JSON object.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from agent.testing import as_compact_plan, count_tokens
from bench.meter import ModelTurn
from bench.workloads import FanOut

__all__ = ["measure_plan_tokens", "plan_reply"]

_COMPACT = {"properties": {"plan": {"type": "string"}}}


def plan_reply(n: int) -> dict[str, Any]:
    """B1's first Planning reply for fan-out ``n``, as its script writes it (JSON steps)."""
    workload = FanOut(n)
    script = workload.script("ponder", workload.world(0, 0.0))
    reply = script(ModelTurn(role="Planning", index=0, texts=("",)))
    if reply.structured is None:
        raise RuntimeError("the B1 script did not plan")
    return reply.structured


def _demo_tokenizer() -> Callable[[str], int] | None:
    """The demo model's tokenizer (vocabulary only: no weights), or None without it."""
    try:
        from llama_cpp import Llama

        from agent.models.demo import demo_gguf_path
    except ImportError:
        return None
    try:
        llama = Llama(model_path=str(demo_gguf_path()), vocab_only=True, verbose=False)
    except Exception:  # no GGUF installed, or it does not load: the estimate still runs
        return None
    return lambda text: len(llama.tokenize(text.encode(), add_bos=False, special=False))


def measure_plan_tokens(sizes: tuple[int, ...] = (4, 8, 16)) -> dict[str, Any]:
    counters: dict[str, Callable[[str], int]] = {"estimate": count_tokens}
    demo = _demo_tokenizer()
    if demo is not None:
        counters["smollm2"] = demo
    rows = []
    for n in sizes:
        reply = plan_reply(n)
        steps = len(reply["steps"])
        forms = {"json": reply, "compact": as_compact_plan(reply, _COMPACT)}
        empty = json.dumps({k: v for k, v in reply.items() if k != "steps"}, ensure_ascii=False)
        for tokenizer, count in counters.items():
            row: dict[str, Any] = {"n": n, "steps": steps, "tokenizer": tokenizer}
            for form, value in forms.items():
                total = count(json.dumps(value, ensure_ascii=False))
                row[f"{form}_tokens"] = total
                row[f"{form}_per_step"] = round(total / steps, 1)
                row[f"{form}_steps_only_per_step"] = round((total - count(empty)) / steps, 1)
            rows.append(row)
    example = as_compact_plan(plan_reply(2), _COMPACT)["plan"]
    return {"rows": rows, "example": example, "goal_per_step": 15}


def lines(report: dict[str, Any]) -> list[str]:
    """The table ``python -m bench`` prints."""
    out = ["Plan output tokens per step (B1's plans; whole reply / steps, steps only in brackets):"]
    for r in report["rows"]:
        out.append(
            f"  N={r['n']:<3} {r['steps']:>3} steps  {r['tokenizer']:<8} "
            f"json {r['json_per_step']:>5} ({r['json_steps_only_per_step']:>5})  "
            f"compact {r['compact_per_step']:>5} ({r['compact_steps_only_per_step']:>5})"
        )
    return out


if __name__ == "__main__":
    sizes = tuple(int(x) for x in sys.argv[1].split(",")) if len(sys.argv) > 1 else (4, 8, 16)
    print(json.dumps(measure_plan_tokens(sizes), indent=1))
