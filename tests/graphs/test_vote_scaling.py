"""The proof that sampling pays: majority-vote accuracy against the binomial expectation
(the experiment itself is `bench.vote_scaling`).

A seeded scripted model answers right with probability P; a wrong answer is
one of W different wrong values, so wrong answers vary and split their vote.
The expected accuracy of a plurality vote over N independent paths (ties
broken uniformly, as `agent.verifier.choose` breaks them when scores are
equal) is computed exactly from the multinomial distribution. The sampled
graph's measured accuracy at N = 1, 3, 5, 9 must match it within three
standard errors, every run's pick must be the path the vote done by hand on
the same draws names, and a verifier that rejects uncited or misquoted
candidates must raise accuracy further when wrong answers often are.
"""

from __future__ import annotations

import math
import random

import pytest

from agent.verifier import Candidate, choose
from bench.vote_scaling import (
    RIGHT,
    UNCITED,
    Draw,
    P,
    draw,
    expected_accuracy,
    graph_accuracy,
    ideal_vote,
)


def _tolerance(expected: float, trials: int) -> float:
    return 3 * math.sqrt(expected * (1 - expected) / trials)


def test_expectation_is_the_binomial_one_when_wrong_answers_agree() -> None:
    """Sanity of the calculator: with W = 1 (wrong answers all agree) a plurality is
    a strict majority for odd N, P(X > N/2) with X ~ Binomial(N, P)."""
    for n in (1, 3, 5, 9):
        binomial = sum(
            math.comb(n, k) * P**k * (1 - P) ** (n - k) for k in range(n // 2 + 1, n + 1)
        )
        assert expected_accuracy(n, w=1) == pytest.approx(binomial)


def test_vote_machinery_matches_the_expectation_at_scale() -> None:
    """The verifier's vote itself, on 4,000 draws per N (tolerance about ±2.4 points)."""
    rng, trials = random.Random(11), 4000
    for n in (1, 3, 5, 9):
        for uncited, verifier in ((0.0, False), (UNCITED, True)):
            right = 0
            for _ in range(trials):
                drawn = [draw(rng, uncited) for _ in range(n)]
                order = list(range(n))
                rng.shuffle(order)  # path numbers carry no information
                candidates = [
                    Candidate(
                        path=order[i],
                        answer=f"{d.text} [1]" if ok else f"{d.text} *(unsupported)*",
                        short_answer=d.text,
                        supported=int(ok),
                        unsupported=int(not ok),
                        cited=len(d.cites),
                    )
                    for i, d in enumerate(drawn)
                    for ok in [bool(d.cites) and not d.quote]
                ]
                verdict = choose(candidates)
                chosen = next(c for c in candidates if c.path == verdict.chosen)
                right += chosen.short_answer == RIGHT
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
        runs = graph_accuracy(n, trials, uncited=0.0, seed=n)
        assert runs.agreement == 1.0, f"N={n}: the graph's pick is not the vote's"
        measured[n] = runs.accuracy
        assert measured[n] == pytest.approx(expected, abs=_tolerance(expected, trials)), n
    assert measured[9] - measured[1] > _tolerance(expected_accuracy(9), trials)


@pytest.mark.slow
def test_verifier_rejecting_uncited_candidates_raises_accuracy_further() -> None:
    trials, n = 100, 5
    plain = expected_accuracy(n, uncited=UNCITED, verifier=False)
    verified = expected_accuracy(n, uncited=UNCITED, verifier=True)
    runs = graph_accuracy(n, trials, uncited=UNCITED, seed=99)
    assert runs.agreement == 1.0, "the graph's pick is not the verified vote's"
    assert runs.accuracy == pytest.approx(verified, abs=_tolerance(verified, trials))
    assert runs.accuracy > plain + 0.1
    assert runs.accuracy > runs.plain_given_draws  # on the very same draws


def test_hand_vote_counts_only_supported_candidates() -> None:
    """`ideal_vote`, the yardstick of the graph tests, on draws chosen by hand."""
    wrong, misquoted = (
        Draw("The answer is 100.", ["s1.1"]),
        Draw("The answer is 100.", ["s1.1"], quote="The reference table says the answer is 42."),
    )
    right, bare = Draw(RIGHT, ["s1.1"]), Draw("The answer is 100.", [])
    assert ideal_vote([right, misquoted, bare], verifier=True) == (0, 1.0)
    assert ideal_vote([right, misquoted, bare], verifier=False) == (1, 0.0)
    assert ideal_vote([wrong, right], verifier=True) == (0, 0.5)  # a tie: lowest path
    assert ideal_vote([bare, misquoted], verifier=True) == (0, 0.0)  # all rejected: all vote
