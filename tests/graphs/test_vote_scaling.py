"""The proof that sampling pays: majority-vote accuracy against the binomial expectation.

A seeded scripted model answers right with probability P; a wrong answer is
one of W different wrong values, so wrong answers vary and split their vote.
The expected accuracy of a plurality vote over N independent paths (ties
broken uniformly, as `agent.verifier.choose` breaks them when scores are
equal) is computed exactly from the multinomial distribution. The sampled
graph's measured accuracy at N = 1, 3, 5, 9 must match it within three
standard errors, and a verifier that rejects uncited candidates must raise
accuracy further when wrong answers are often uncited.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from itertools import product
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agent.settings import Settings
from agent.testing import FunctionChatModel, plan_step, planning_reply
from agent.verifier import Candidate, choose
from graphs.sampled import build_sampled_graph
from tests.conftest import recording_tool

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


def expected_accuracy(n: int, *, uncited: float = 0.0, verifier: bool = False) -> float:
    """Exact P(the vote picks the right answer) over all outcome counts.

    Categories: right (always cited), then each wrong value cited, then uncited."""
    q = (1 - P) / W
    probs = [P] + [q * (1 - uncited)] * W + [q * uncited] * W
    total = 0.0
    for counts in _compositions(n, len(probs)):
        ways = math.factorial(n)
        for c in counts:
            ways //= math.factorial(c)
        prob = ways * math.prod(p**c for p, c in zip(probs, counts, strict=True))
        right, cited, bare = counts[0], counts[1 : W + 1], counts[W + 1 :]
        if verifier and (right or any(cited)):
            votes = [right, *cited]  # uncited candidates are rejected and do not vote
        else:
            votes = [right] + [a + b for a, b in zip(cited, bare, strict=True)]
        top = max(votes)
        if right == top and top > 0:
            total += prob / votes.count(top)
    return total


def _draw(rng: random.Random, uncited: float) -> tuple[str, list[str]]:
    if rng.random() < P:
        return "The answer is 42.", ["s1.1"]
    wrong = f"The answer is {rng.randrange(W) + 100}."
    return wrong, ([] if rng.random() < uncited else ["s1.1"])


def _graph_accuracy(n: int, trials: int, *, uncited: float, seed: int) -> float:
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
        outcome.update({i: _draw(rng, uncited) for i in range(n)})
        out = await graph.ainvoke({"task": "What is the answer?"})
        return bool(out["answer"].markdown.startswith("The answer is 42."))

    async def all_trials() -> int:
        return sum([await trial() for _ in range(trials)])

    return asyncio.run(all_trials()) / trials


def _tolerance(expected: float, trials: int) -> float:
    return 3 * math.sqrt(expected * (1 - expected) / trials)


def test_expectation_is_the_binomial_one_when_wrong_answers_agree() -> None:
    """Sanity of the calculator: with W = 1 (wrong answers all agree) a plurality is
    a strict majority for odd N, P(X > N/2) with X ~ Binomial(N, P)."""
    global W
    saved, W = W, 1
    try:
        for n in (1, 3, 5, 9):
            binomial = sum(
                math.comb(n, k) * P**k * (1 - P) ** (n - k) for k in range(n // 2 + 1, n + 1)
            )
            assert expected_accuracy(n) == pytest.approx(binomial)
    finally:
        W = saved


def test_vote_machinery_matches_the_expectation_at_scale() -> None:
    """The verifier's vote itself, on 4,000 draws per N (tolerance about ±2.4 points)."""
    rng, trials = random.Random(11), 4000
    for n in (1, 3, 5, 9):
        for uncited, verifier in ((0.0, False), (UNCITED, True)):
            right = 0
            for _ in range(trials):
                drawn = [_draw(rng, uncited) for _ in range(n)]
                order = list(range(n))
                rng.shuffle(order)  # path numbers carry no information
                candidates = [
                    Candidate(
                        path=order[i],
                        answer=f"{text} [1]" if cites else f"{text} *(unsupported)*",
                        short_answer=text,
                        supported=1 if cites else 0,
                        unsupported=0 if cites else 1,
                        cited=len(cites),
                    )
                    for i, (text, cites) in enumerate(drawn)
                ]
                verdict = choose(candidates)
                chosen = next(c for c in candidates if c.path == verdict.chosen)
                right += chosen.short_answer == "The answer is 42."
            expected = expected_accuracy(n, uncited=uncited, verifier=verifier)
            assert right / trials == pytest.approx(expected, abs=_tolerance(expected, trials))


@pytest.mark.slow
def test_sampled_graph_vote_accuracy_matches_the_expectation() -> None:
    """Through the real sampled graph: 100 runs at each N (tolerance about ±15 points),
    and accuracy rising from N = 1 to N = 9 by more than the tolerance."""
    trials = 100
    measured = {}
    for n in (1, 3, 5, 9):
        expected = expected_accuracy(n)
        measured[n] = _graph_accuracy(n, trials, uncited=0.0, seed=n)
        assert measured[n] == pytest.approx(expected, abs=_tolerance(expected, trials)), n
    assert measured[9] - measured[1] > _tolerance(expected_accuracy(9), trials)


@pytest.mark.slow
def test_verifier_rejecting_uncited_candidates_raises_accuracy_further() -> None:
    trials, n = 100, 5
    plain = expected_accuracy(n, uncited=UNCITED, verifier=False)
    verified = expected_accuracy(n, uncited=UNCITED, verifier=True)
    measured = _graph_accuracy(n, trials, uncited=UNCITED, seed=99)
    assert measured == pytest.approx(verified, abs=_tolerance(verified, trials))
    assert measured > plain + 0.1
