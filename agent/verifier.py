"""The verifier of sampled reasoning paths: score each candidate answer, then vote.

Three signals, in order of authority:

1. the citation check: a candidate none of whose claims is supported, or with
   any unsupported claim, is *rejected* and does not vote (unless every
   candidate is rejected, when all vote);
2. self-consistency: the eligible candidates vote with their normalised short
   answers (the first claim, as `agent.scoring.short_answer` reads it); the
   largest group wins;
3. within the winning group (and to break a tie between groups), the score:
   supported-claim rate plus the share of the path's steps the reflector
   judged ok.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from agent.scoring import claim_counts, normalize_answer, short_answer
from agent.state import Answer, Reflection

__all__ = ["Candidate", "Verdict", "candidate_from", "choose", "samples_for"]


class Candidate(BaseModel):
    """One path's answer as the verifier sees it."""

    model_config = ConfigDict(frozen=True)

    path: int
    answer: str = ""
    short_answer: str = ""
    supported: int = 0
    unsupported: int = 0
    cited: int = 0
    completeness: float = Field(default=0.0, description="share of steps the reflector judged ok")
    status: str = "done"
    error: str = ""

    @property
    def rejected(self) -> bool:
        return bool(self.error) or not self.answer or self.unsupported > 0 or self.cited == 0

    @property
    def score(self) -> float:
        total = self.supported + self.unsupported
        rate = self.supported / total if total else 0.0
        return round(rate + 0.5 * self.completeness - (1.0 if self.rejected else 0.0), 3)


class Verdict(BaseModel):
    """The verifier's choice: the chosen path, the vote per short answer, every candidate."""

    chosen: int | None
    vote: dict[str, int]
    candidates: list[dict[str, object]]


def candidate_from(
    path: int,
    answer: Answer | None,
    reflections: Sequence[Reflection] = (),
    *,
    status: str = "done",
    error: str = "",
) -> Candidate:
    if answer is None:
        return Candidate(path=path, status=status, error=error or "no answer")
    verdicts = [v for r in reflections for v in r.verdicts]
    ok = sum(1 for v in verdicts if v.verdict == "ok")
    counts = claim_counts(answer.markdown)
    return Candidate(
        path=path,
        answer=answer.markdown,
        short_answer=short_answer(answer.markdown),
        supported=counts.supported,
        unsupported=counts.unsupported,
        cited=len(answer.citations),
        completeness=ok / len(verdicts) if verdicts else 1.0,
        status=status,
        error=error,
    )


def choose(candidates: Sequence[Candidate]) -> Verdict:
    """Reject unsupported candidates, vote over normalised short answers, pick the best."""
    answered = [c for c in candidates if c.answer and not c.error]
    eligible = [c for c in answered if not c.rejected] or answered
    groups: dict[str, list[Candidate]] = {}
    for c in eligible:
        groups.setdefault(normalize_answer(c.short_answer), []).append(c)
    chosen: Candidate | None = None
    if groups:
        best = max(
            groups.values(),
            key=lambda g: (len(g), max(c.score for c in g), -min(c.path for c in g)),
        )
        chosen = max(best, key=lambda c: (c.score, -c.path))
    votes = {key: len(group) for key, group in groups.items()}
    rows: list[dict[str, object]] = []
    for c in candidates:
        key = normalize_answer(c.short_answer)
        rows.append(
            {
                "path": c.path,
                "answer": c.answer,
                "short_answer": c.short_answer,
                "score": c.score,
                "supported": c.supported,
                "unsupported": c.unsupported,
                "votes": votes.get(key, 0) if c in eligible else 0,
                "chosen": chosen is not None and c.path == chosen.path,
                "error": c.error or ("rejected by the citation check" if c.rejected else ""),
            }
        )
    return Verdict(chosen=chosen.path if chosen else None, vote=votes, candidates=rows)


def samples_for(requested: int | str, effort: str, task: str, *, trivial: bool) -> int:
    """How many paths a run gets: the number asked for, or for ``auto`` one per
    effort level (low 1, medium 3, high 5); a trivial task (a greeting) always 1."""
    if trivial:
        return 1
    if isinstance(requested, int):
        return requested
    return {"low": 1, "medium": 3, "high": 5}.get(effort, 3)
