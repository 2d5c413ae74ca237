"""``python -m bench.citation_check``: how often the citation check is right, on labelled claims.

``tests/citations/labelled_claims.jsonl`` holds (claim, passage) pairs taken
from ``examples/corpus`` and the Python documentation, each labelled by hand:
half supported (a paraphrase of one of the passage's sentences), half not
(a wrong number, a wrong name, a negation, or a true sentence from elsewhere on
the same page). Each pair goes through the real check (`assess_claims`, the
path a small model's quote-less citation takes) as a one-passage evidence list.

Printed: per kind, how many the check kept; then the rate of unsupported
claims caught, the rate of false alarms, precision and recall (the positive
class is "unsupported": what the check exists to catch), and a negative
control: every supported claim paired with a passage about something else.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.citations import ClaimDraft, assess_claims
from agent.observation import Observation, Passage
from agent.state import StepRecord
from agent.step_views import EvidenceItem

__all__ = ["LABELLED", "Scores", "load", "main", "mismatched", "score"]

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "citations" / "labelled_claims.jsonl"


@dataclass(frozen=True)
class Scores:
    kept: Counter[str]  # pairs the check verified, by kind
    total: Counter[str]  # pairs, by kind
    supported: int  # pairs labelled supported
    unsupported: int
    false_alarms: int  # supported pairs the check rejected
    missed: int  # unsupported pairs the check verified

    @property
    def caught_rate(self) -> float:
        return 1 - self.missed / self.unsupported

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.supported

    @property
    def precision(self) -> float:
        """Of the claims the check rejected, the share that were really unsupported."""
        flagged = (self.unsupported - self.missed) + self.false_alarms
        return (self.unsupported - self.missed) / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        """Of the unsupported claims, the share the check rejected."""
        return self.caught_rate


def load(path: Path = LABELLED) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def verified(claim: str, passage: str, source: str = "labelled") -> bool:
    """Whether the real citation check keeps ``claim`` citing ``passage`` (no quote given)."""
    record = StepRecord(
        step_id="s1",
        plan_version=1,
        tool="read_document",
        input={"path": source},
        status="done",
        observation=Observation(
            tool="read_document",
            ok=True,
            content=passage,
            passages=(Passage(ref=source, text=passage),),
            documents={source: passage},
        ),
    )
    item = EvidenceItem("s1.1", record.observation.passages[0], record)
    assessment = assess_claims([ClaimDraft(text=claim, cites=["s1.1"])], [item])
    return assessment.verdicts[0].verified


def score(rows: Sequence[dict[str, str]]) -> Scores:
    kept: Counter[str] = Counter()
    total: Counter[str] = Counter()
    false_alarms = missed = 0
    for row in rows:
        ok = verified(row["claim"], row["passage"], row["source"])
        total[row["kind"]] += 1
        kept[row["kind"]] += ok
        if row["label"] == "supported" and not ok:
            false_alarms += 1
        if row["label"] == "unsupported" and ok:
            missed += 1
    supported = sum(1 for r in rows if r["label"] == "supported")
    return Scores(kept, total, supported, len(rows) - supported, false_alarms, missed)


def mismatched(rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Negative control: each supported claim with the passage of a pair far from it.

    Passages are rotated by half the list, so a claim meets a passage from
    another document (the list is grouped by source); every such pair is
    unsupported by construction.
    """
    good = [r for r in rows if r["label"] == "supported"]
    shift = len(good) // 2
    return [
        {**claim, "passage": good[(i + shift) % len(good)]["passage"], "label": "unsupported"}
        for i, claim in enumerate(good)
        if good[(i + shift) % len(good)]["source"] != claim["source"]
    ]


def main() -> None:
    rows = load()
    scores = score(rows)
    print(f"labelled pairs: {len(rows)} ({scores.supported} supported, {scores.unsupported} not)")
    print(f"{'kind':<14}{'pairs':>6}{'kept':>6}")
    for kind, n in sorted(scores.total.items()):
        print(f"{kind:<14}{n:>6}{scores.kept[kind]:>6}")
    print(f"unsupported claims caught: {scores.caught_rate:.1%}")
    print(f"false alarms (supported claims rejected): {scores.false_alarm_rate:.1%}")
    print(f"precision {scores.precision:.1%}, recall {scores.recall:.1%} (positive = unsupported)")
    control = mismatched(rows)
    kept = sum(verified(r["claim"], r["passage"]) for r in control)
    print(f"negative control, claims on other documents' passages: {kept} of {len(control)} kept")


if __name__ == "__main__":
    main()
