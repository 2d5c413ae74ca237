"""How an answer is scored against gold answers and gold sources.

Accuracy follows the usual open-QA conventions (SQuAD's normalisation:
lower case, no punctuation or articles, one space), with two relaxations
that short factual questions need: containment (the gold answer appears in
the answer, as whole words) and numeric tolerance (a number within 1% of a
numeric gold answer). Claims are read back from the answer's Markdown,
which marks each claim with its citation numbers or ``*(unsupported)*``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from agent.state import Citation

__all__ = [
    "AnswerScore",
    "ClaimCounts",
    "claim_counts",
    "normalize_answer",
    "score_answer",
    "short_answer",
    "source_match",
]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*(?:\.\d+)?")
_UNSUPPORTED = "*(unsupported)*"
_CITED = re.compile(r"\[\d+\]\s*$")
_SECTION = ("**Not established by the evidence:**", "**Sources**")


def normalize_answer(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _numbers(text: str) -> list[float]:
    found = []
    for raw in _NUMBER.findall(text):
        try:
            found.append(float(raw.replace(",", "")))
        except ValueError:
            continue
    return found


@dataclass(frozen=True)
class AnswerScore:
    exact: bool
    contains: bool
    numeric: bool

    @property
    def correct(self) -> bool:
        return self.exact or self.contains or self.numeric


def score_answer(answer: str, gold: Sequence[str], *, tolerance: float = 0.01) -> AnswerScore:
    """The best match of ``answer`` against any accepted gold answer."""
    said = normalize_answer(short_answer(answer))
    whole = f" {normalize_answer(answer)} "
    exact = contains = numeric = False
    said_numbers = _numbers(answer)
    for g in gold:
        norm = normalize_answer(g)
        if not norm:
            continue
        exact |= said == norm
        contains |= f" {norm} " in whole
        gold_numbers = _numbers(g)
        if (
            len(gold_numbers) == 1
            and normalize_answer(g).replace(" ", "").replace(".", "").isdigit()
        ):
            target = gold_numbers[0]
            slack = abs(target) * tolerance
            numeric |= any(abs(n - target) <= slack for n in said_numbers)
    return AnswerScore(exact=exact, contains=contains, numeric=numeric)


def claim_lines(markdown: str) -> list[str]:
    """The claim paragraphs of an answer, without the gaps and sources sections."""
    body = markdown
    for marker in _SECTION:
        body = body.split(marker, 1)[0]
    return [p.strip() for p in body.split("\n\n") if p.strip()]


def short_answer(markdown: str) -> str:
    """The first claim without its citation marks: the answer a vote compares."""
    lines = claim_lines(markdown)
    if not lines:
        return ""
    first = lines[0].replace(_UNSUPPORTED, "")
    return re.sub(r"(\[\d+\])+", "", first).strip()


@dataclass(frozen=True)
class ClaimCounts:
    supported: int
    unsupported: int

    @property
    def rate(self) -> float:
        total = self.supported + self.unsupported
        return self.supported / total if total else 0.0


def claim_counts(markdown: str) -> ClaimCounts:
    lines = claim_lines(markdown)
    unsupported = sum(1 for line in lines if line.endswith(_UNSUPPORTED))
    supported = sum(1 for line in lines if _CITED.search(line.replace(_UNSUPPORTED, "")))
    return ClaimCounts(supported=supported, unsupported=unsupported)


def source_match(citations: Sequence[Citation], gold: Sequence[str]) -> tuple[float, float]:
    """Citation precision and recall against gold sources (a file name, page or URL):
    a citation counts when its source ends with, or contains, a gold source."""
    if not gold:
        return (0.0, 0.0)
    cited = {c.source for c in citations}

    def hits(source: str, want: str) -> bool:
        s, w = source.lower().rstrip("/"), want.lower().rstrip("/")
        return s.endswith(w) or w in s

    good = [s for s in cited if any(hits(s, g) for g in gold)]
    found = [g for g in gold if any(hits(s, g) for s in cited)]
    precision = len(good) / len(cited) if cited else 0.0
    return (precision, len(found) / len(gold))
