"""The scripted vote experiment: does sampling N paths and voting pay as theory says?

A seeded scripted model answers right with probability P; a wrong answer is
one of W different wrong values, so wrong answers vary and split their vote.
`expected_accuracy` is the exact accuracy of a plurality vote over N
independent paths (ties broken uniformly, as `agent.verifier.choose` breaks
them between equal scores), from the multinomial distribution.
`graph_accuracy` measures it through the real sampled graph, and checks each
run's pick against the vote done by hand on the same draws (`ideal_vote`), so a
gap between measured and expected splits into the graph's fault (agreement
below 100%) and the draws' luck (the fair vote on these draws, and the share of
right single answers in them).

Why N = 9 once read 60.5% against 70.4%: on seed 9 the graph picked the hand
vote's path in every run; the first 200 trials simply drew 42.6% right single
answers instead of 45% (2 standard errors low), a vote over nine amplifies
that, and the fair vote on those very draws is 62.7%. It was the sample.

    .venv/bin/python -m bench.vote_scaling   # ~5-10 min; writes bench/results/vote_scaling.*
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from langchain_core.messages import BaseMessage

from agent.settings import Settings
from agent.testing import FunctionChatModel, plan_step, planning_reply
from bench.recording_tool import recording_tool
from graphs.sampled import build_sampled_graph

__all__ = [
    "EVIDENCE",
    "HINTS",
    "RIGHT",
    "UNCITED",
    "Draw",
    "P",
    "Trials",
    "W",
    "draw",
    "expected_accuracy",
    "graph_accuracy",
    "ideal_vote",
]

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


# What the one lookup finds: a source that states the right value and, in other
# sentences, each wrong value, so a cited candidate of either kind is supported by
# the sentence it cites and only the vote can tell them apart.
EVIDENCE = (
    "Reports disagree about the answer. The reference table says the answer is 42. "
    "An old forum post says the answer is 100. A blog says the answer is 101. "
    "A misprint says the answer is 102."
)
RIGHT = "The answer is 42."


class Draw(NamedTuple):
    """One path's scripted answer: its claim, what it cites, and the quote it gives."""

    text: str
    cites: list[str]
    quote: str = ""


def draw(rng: random.Random, uncited: float) -> Draw:
    """Right with probability P; else one of W wrong values, which with probability
    ``uncited`` the citation check rejects: half cite nothing, half quote the sentence
    that states the right value (the source does not say theirs)."""
    if rng.random() < P:
        return Draw(RIGHT, ["s1.1"])
    wrong = f"The answer is {rng.randrange(W) + 100}."
    if rng.random() >= uncited:
        return Draw(wrong, ["s1.1"])
    if rng.random() < 0.5:
        return Draw(wrong, [])
    return Draw(wrong, ["s1.1"], quote="The reference table says the answer is 42.")


def ideal_vote(drawn: Sequence[Draw], *, verifier: bool) -> tuple[int, float]:
    """The vote over these draws done by hand: (the path `choose` should pick, the
    chance a fair coin among tied groups picks the right answer).

    With ``verifier``, rejected draws do not vote unless all are rejected. Among tied
    groups `choose` takes the one holding the lowest path (scores are equal here);
    paths are independent, so over many trials that is a fair coin.
    """
    ok = [i for i, d in enumerate(drawn) if d.cites and not d.quote]
    voters = ok if verifier and ok else list(range(len(drawn)))
    groups: dict[str, list[int]] = {}
    for i in voters:
        groups.setdefault(drawn[i].text, []).append(i)
    top = max(len(g) for g in groups.values())
    tied = [t for t, g in groups.items() if len(g) == top]
    winner = min(tied, key=lambda t: groups[t][0])
    return groups[winner][0], (1.0 / len(tied) if RIGHT in tied else 0.0)


class Trials(NamedTuple):
    """What ``trials`` runs of the sampled graph gave, and what those draws predict."""

    accuracy: float  # the graph picked the right answer
    given_draws: float  # a fair-tie vote over the same draws
    plain_given_draws: float  # the same, with no candidate rejected (a plain vote)
    agreement: float  # the graph picked the very path `ideal_vote` names
    right_share: float  # share of single answers that were right


def graph_accuracy(n: int, trials: int, *, uncited: float, seed: int) -> Trials:
    rng = random.Random(seed)
    outcome: dict[int, Draw] = {}

    def reply(messages: list[BaseMessage], role: str) -> Any:
        if role == "Planning":
            return planning_reply(plan_step("s1", "lookup", {"query": "the answer"}))
        prompt = "\n".join(str(m.content) for m in messages)
        path = next((i + 1 for i, hint in enumerate(HINTS) if hint in prompt), 0)
        d = outcome[path]
        return {"claims": [{"text": d.text, "cites": d.cites, "quote": d.quote}], "gaps": []}

    tool, _ = recording_tool(answer=lambda query: EVIDENCE)
    graph = build_sampled_graph(
        FunctionChatModel(fn=reply), [tool], settings=Settings(samples=n, effort="low")
    )
    right = agree = 0
    fair = plain = share = 0.0

    async def trial() -> None:
        nonlocal right, agree, fair, plain, share
        outcome.clear()
        outcome.update({i: draw(rng, uncited) for i in range(n)})
        drawn = [outcome[i] for i in range(n)]
        out: dict[str, Any] = {}
        async for update in graph.astream({"task": "What is the answer?"}, stream_mode="updates"):
            out.update(update.get("verify") or {})
        path, chance = ideal_vote(drawn, verifier=True)
        right += bool(out["answer"].markdown.startswith(RIGHT))
        agree += out["sampling"]["chosen"] == path
        fair += chance
        plain += ideal_vote(drawn, verifier=False)[1]
        share += sum(d.text == RIGHT for d in drawn) / n

    async def all_trials() -> None:
        for _ in range(trials):
            await trial()

    asyncio.run(all_trials())
    return Trials(right / trials, fair / trials, plain / trials, agree / trials, share / trials)


def _se(p: float, trials: int) -> float:
    return math.sqrt(p * (1 - p) / trials)


def main() -> None:
    trials = 1000
    rows = []
    for n in (1, 3, 5, 9):
        plain = graph_accuracy(n, trials, uncited=0.0, seed=n)
        checked = graph_accuracy(n, trials, uncited=UNCITED, seed=100 + n)
        expected = expected_accuracy(n)
        expected_verifier = expected_accuracy(n, uncited=UNCITED, verifier=True)
        rows.append(
            {
                "samples": n,
                "expected": round(expected, 4),
                "measured": plain.accuracy,
                "standard_error": round(_se(expected, trials), 4),
                "right_share": round(plain.right_share, 4),
                "given_draws": round(plain.given_draws, 4),
                "agreement": plain.agreement,
                "expected_no_verifier": round(expected_accuracy(n, uncited=UNCITED), 4),
                "plain_given_draws_verifier_run": round(checked.plain_given_draws, 4),
                "expected_verifier": round(expected_verifier, 4),
                "measured_verifier": checked.accuracy,
                "standard_error_verifier": round(_se(expected_verifier, trials), 4),
                "agreement_verifier": checked.agreement,
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
        "| N | expected | measured | 1 SE | right single answers | fair vote on these draws "
        "| graph = hand vote |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['samples']} | {r['expected']:.1%} | {r['measured']:.1%} "
            f"| {r['standard_error']:.1%} | {r['right_share']:.1%} | {r['given_draws']:.1%} "
            f"| {r['agreement']:.0%} |"
        )
    print()
    print(
        "| N | plain vote expected | plain vote on these draws | verifier expected "
        "| verifier measured | 1 SE | graph = hand vote |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['samples']} | {r['expected_no_verifier']:.1%} "
            f"| {r['plain_given_draws_verifier_run']:.1%} | {r['expected_verifier']:.1%} "
            f"| {r['measured_verifier']:.1%} | {r['standard_error_verifier']:.1%} "
            f"| {r['agreement_verifier']:.0%} |"
        )
    _chart(rows, out / "vote_scaling.png", trials)


def _chart(rows: list[dict[str, Any]], path: Path, trials: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["samples"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [100 * r["expected"] for r in rows], "k--", label="expected (vote)")
    ax.errorbar(
        ns,
        [100 * r["measured"] for r in rows],
        yerr=[300 * r["standard_error"] for r in rows],
        fmt="o-",
        capsize=3,
        label="measured (vote), ±3 SE",
    )
    ax.plot(
        ns, [100 * r["expected_verifier"] for r in rows], "k:", label="expected (verifier + vote)"
    )
    ax.errorbar(
        ns,
        [100 * r["measured_verifier"] for r in rows],
        yerr=[300 * r["standard_error_verifier"] for r in rows],
        fmt="s-",
        capsize=3,
        label="measured (verifier + vote), ±3 SE",
    )
    ax.set_xlabel("samples N (reasoning paths)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(ns)
    ax.set_title(f"scripted model, p = {P}, {W} wrong values, {trials} runs per point")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
