"""The scripted vote experiment: does sampling N paths and voting pay as theory says?

A seeded scripted model answers right with probability P; a wrong answer is
one of W different wrong values, so wrong answers vary and split their vote.
`expected_accuracy` is the exact accuracy of a plurality vote over N
independent paths (ties broken uniformly, as `agent.verifier.choose` breaks
them between equal scores), from the multinomial distribution.
`graph_accuracy` measures it through the real sampled graph.

    .venv/bin/python -m bench.vote_scaling   # ~3 min; writes bench/results/vote_scaling.*
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from agent.settings import Settings
from agent.testing import FunctionChatModel, plan_step, planning_reply
from bench.recording_tool import recording_tool
from graphs.sampled import build_sampled_graph

__all__ = ["HINTS", "UNCITED", "P", "W", "draw", "expected_accuracy", "graph_accuracy"]

P, W = 0.45, 3  # right 45% of the time; 3 different wrong answers
UNCITED = 0.6  # share of wrong answers that cite nothing (the verifier's case)
HINTS = (  # a path's planning hint tells which path a model call belongs to
    "authoritative",
    "exact figure",
    "different words",
    "break the question",
    "primary documentation",
    "likely stated",
    "hides an assumption",
    "general topic",
)


def _compositions(n: int, k: int) -> Sequence[tuple[int, ...]]:
    if k == 1:
        return [(n,)]
    return [(i, *rest) for i in range(n + 1) for rest in _compositions(n - i, k - 1)]


def expected_accuracy(
    n: int, *, uncited: float = 0.0, verifier: bool = False, p: float = P, w: int = W
) -> float:
    """Exact P(the vote picks the right answer) over all outcome counts.

    Categories: right (always cited), then each wrong value cited, then uncited."""
    q = (1 - p) / w
    probs = [p] + [q * (1 - uncited)] * w + [q * uncited] * w
    total = 0.0
    for counts in _compositions(n, len(probs)):
        ways = math.factorial(n)
        for c in counts:
            ways //= math.factorial(c)
        prob = ways * math.prod(p**c for p, c in zip(probs, counts, strict=True))
        right, cited, bare = counts[0], counts[1 : w + 1], counts[w + 1 :]
        if verifier and (right or any(cited)):
            votes = [right, *cited]  # uncited candidates are rejected and do not vote
        else:
            votes = [right] + [a + b for a, b in zip(cited, bare, strict=True)]
        top = max(votes)
        if right == top and top > 0:
            total += prob / votes.count(top)
    return total


def draw(rng: random.Random, uncited: float) -> tuple[str, list[str]]:
    if rng.random() < P:
        return "The answer is 42.", ["s1.1"]
    wrong = f"The answer is {rng.randrange(W) + 100}."
    return wrong, ([] if rng.random() < uncited else ["s1.1"])


def graph_accuracy(n: int, trials: int, *, uncited: float, seed: int) -> float:
    rng = random.Random(seed)
    outcome: dict[int, tuple[str, list[str]]] = {}

    def reply(messages: list[BaseMessage], role: str) -> Any:
        if role == "Planning":
            return planning_reply(plan_step("s1", "lookup", {"query": "the answer"}))
        prompt = "\n".join(str(m.content) for m in messages)
        path = next((i + 1 for i, hint in enumerate(HINTS) if hint in prompt), 0)
        text, cites = outcome[path]
        return {"claims": [{"text": text, "cites": cites}], "gaps": []}

    tool, _ = recording_tool()
    graph = build_sampled_graph(
        FunctionChatModel(fn=reply), [tool], settings=Settings(samples=n, effort="low")
    )

    async def trial() -> bool:
        outcome.clear()
        outcome.update({i: draw(rng, uncited) for i in range(n)})
        out = await graph.ainvoke({"task": "What is the answer?"})
        return bool(out["answer"].markdown.startswith("The answer is 42."))

    async def all_trials() -> int:
        return sum([await trial() for _ in range(trials)])

    return asyncio.run(all_trials()) / trials


def main() -> None:
    trials = 200
    rows = []
    for n in (1, 3, 5, 9):
        rows.append(
            {
                "samples": n,
                "expected": round(expected_accuracy(n), 3),
                "measured": graph_accuracy(n, trials, uncited=0.0, seed=n),
                "expected_verifier": round(expected_accuracy(n, uncited=UNCITED, verifier=True), 3),
                "expected_no_verifier": round(expected_accuracy(n, uncited=UNCITED), 3),
                "measured_verifier": graph_accuracy(n, trials, uncited=UNCITED, seed=100 + n),
            }
        )
    out = Path(__file__).parent / "results"
    (out / "vote_scaling.json").write_text(
        json.dumps(
            {"p": P, "wrong_values": W, "uncited": UNCITED, "trials": trials, "rows": rows},
            indent=2,
        ),
        encoding="utf-8",
    )
    print(
        "| N | expected | measured | uncited wrong: no verifier "
        "| verifier expected | verifier measured |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['samples']} | {r['expected']:.1%} | {r['measured']:.1%} "
            f"| {r['expected_no_verifier']:.1%} | {r['expected_verifier']:.1%} "
            f"| {r['measured_verifier']:.1%} |"
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["samples"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [100 * r["expected"] for r in rows], "k--", label="expected (vote)")
    ax.plot(ns, [100 * r["measured"] for r in rows], "o-", label="measured (vote)")
    ax.plot(
        ns, [100 * r["expected_verifier"] for r in rows], "k:", label="expected (verifier + vote)"
    )
    ax.plot(
        ns, [100 * r["measured_verifier"] for r in rows], "s-", label="measured (verifier + vote)"
    )
    ax.set_xlabel("samples N (reasoning paths)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(ns)
    ax.set_title(f"scripted model, single-answer accuracy p = {P}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "vote_scaling.png", dpi=100)


if __name__ == "__main__":
    main()
