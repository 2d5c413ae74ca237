"""Whether a cited span supports a claim: a lexical test that can say no.

A quote found in the source proves only that the run fetched those words. This
test asks whether they say what the claim says, with no model: the claim's
numbers must appear exactly, its identifiers (``asyncio.gather``, ``TaskGroup``)
must appear, almost all of its other content words must appear (compared as
Snowball stems, stopwords ignored), and a claim must not negate what its
sentence affirms or affirm what it negates. It is judged against the best
sentence of the span, or two neighbouring sentences, never against the whole
page, so an unrelated sentence elsewhere does not lend its words.

It is deliberately strict: a claim that paraphrases with synonyms fails it,
which costs an unsupported mark, never a false citation. Its precision and
recall on a labelled set are printed by ``python -m bench.citation_check``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

from agent.observation import normalize_text

__all__ = ["Support", "best_support", "lead_sentences", "sentences", "support_in_context"]

# Identifiers keep their dots and underscores (asyncio.gather, return_exceptions,
# sys.version_info); numbers keep a decimal or version part (3.11, 0.5).
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:'t)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)|\n\s*\n+|\n(?=\s*(?:[-*+>#|]|\d+\.)\s)")
_NUMBER_TEXT = "zero one two three four five six seven eight nine ten eleven twelve"
_NEGATION_TEXT = "not no never none nothing neither nor cannot nobody nowhere without"
# "one" is left out: it is more often a pronoun ("if one fails") than a count.
_NUMBER_WORDS = {w: str(n) for n, w in enumerate(_NUMBER_TEXT.split()) if w != "one"}
_NEGATIONS = frozenset(_NEGATION_TEXT.split())
# English function words plus the verbs a claim uses to paraphrase ("lets", "means").
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during each
    either else even ever every few for from further had has have having he her here hers
    herself him himself his how however i if in into is it its itself just let lets like
    made make makes may me might more most much must my myself of off on once only or other
    our ours ourselves out over own per rather same she should since so some such than that
    the their theirs them themselves then there these they this those through thus to too
    under until up upon us very via was we were what when whenever where whether which while
    who whom whose why will with within would yet you your yours yourself yourselves
    instead one ones way ways thing things something anything everything whatever get gets
    got able allow allows allowed means mean meaning i.e e.g etc"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stemmer = _STEMMER[0]
    return str(stemmer.stemWord(word))


_STEMMER = [snowballstemmer.stemmer("english")]


@dataclass(frozen=True)
class _Terms:
    """What a piece of text says, as sets the test can compare."""

    stems: frozenset[str]
    numbers: frozenset[str]
    identifiers: frozenset[str]
    negated: bool


def _is_identifier(token: str) -> bool:
    return (
        "_" in token
        or "." in token
        or any(c.isupper() for c in token[1:])
        or (token.isupper() and len(token) > 1)
    )


@lru_cache(maxsize=4096)
def _terms(text: str) -> _Terms:
    stems: set[str] = set()
    numbers: set[str] = set()
    identifiers: set[str] = set()
    negated = False
    for token in _TOKEN.findall(text.translate(_APOSTROPHES)):
        low = token.lower()
        if low.endswith("n't") or low in _NEGATIONS:
            negated = True
            continue
        if token[0].isdigit():
            numbers.add(token.replace(",", ""))
            continue
        if low in _NUMBER_WORDS:
            numbers.add(_NUMBER_WORDS[low])
            continue
        if _is_identifier(token):
            identifiers.add(low.rstrip("."))
            identifiers.add(low.rsplit(".", 1)[-1])
        for part in re.split(r"[._]", low):
            if part and part not in _STOPWORDS and len(part) > 1:
                stems.add(_stem(part))
    return _Terms(frozenset(stems), frozenset(numbers), frozenset(identifiers), negated)


_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})


@dataclass(frozen=True)
class Support:
    """The verdict of the support test on one claim and the span it was judged against."""

    supported: bool
    span: str
    reason: str = ""
    missing: tuple[str, ...] = field(default=())


def sentences(text: str) -> list[tuple[int, int]]:
    """Offsets of the sentences (and list items, table rows) of ``text``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if text[start : match.start()].strip():
            spans.append(_strip(text, start, match.start()))
        start = match.end()
    if text[start:].strip():
        spans.append(_strip(text, start, len(text)))
    return spans


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_MAX_QUOTE_SENTENCES = 6  # a longer quote is judged against the whole source


def _allowance(content_words: int) -> int:
    """Content words a claim may add beyond its sentence: one in five, none for short claims."""
    return content_words // 5


def _judge(claim: _Terms, span_text: str) -> Support:
    span = _terms(span_text)
    if not claim.stems and not claim.numbers and not claim.identifiers:
        return Support(False, span_text, "the claim says nothing checkable")
    wrong_numbers = sorted(claim.numbers - span.numbers)
    if wrong_numbers:
        return Support(False, span_text, f"number {', '.join(wrong_numbers)} not in the source", ())
    unknown = sorted(i for i in claim.identifiers if i not in span.identifiers | span.stems)
    # An identifier written as a plain word in the source still counts ("taskgroup").
    unknown = [i for i in unknown if _stem(i) not in span.stems]
    if unknown:
        return Support(False, span_text, f"{', '.join(unknown)} not in the source")
    missing = tuple(sorted(claim.stems - span.stems))
    if len(missing) > _allowance(len(claim.stems)):
        return Support(False, span_text, f"words not in the source: {', '.join(missing)}", missing)
    if claim.negated != span.negated:
        said = "negates" if claim.negated else "affirms"
        return Support(False, span_text, f"the claim {said} what the source does not", missing)
    return Support(True, span_text, "", missing)


def _windows(text: str, spans: list[tuple[int, int]]) -> Iterator[str]:
    for i, (a, b) in enumerate(spans):
        yield text[a:b]
        if i + 1 < len(spans):
            yield text[a : spans[i + 1][1]]


def best_support(claim: str, text: str) -> Support:
    """The test against the sentence (or pair of sentences) of ``text`` that best fits ``claim``.

    A supporting window wins; among failing ones, the one missing fewest words
    explains the failure.
    """
    terms = _terms(claim)
    best: Support | None = None
    best_key: tuple[int, int, int] = (2, 0, 0)
    for window in _windows(text, sentences(text)) or [text]:
        verdict = _judge(terms, window)
        if verdict.supported:
            key = (0, len(verdict.missing), len(window))
        else:
            overlap = len(terms.stems & _terms(window).stems)
            key = (1, -overlap, len(window))
        if best is None or key < best_key:
            best, best_key = verdict, key
    return best if best is not None else Support(False, "", "the source is empty")


def support_in_context(claim: str, quote: str, source: str) -> Support | None:
    """The test against the sentences of ``source`` around ``quote``; None if it is not there.

    The quote is matched as `normalize_text` matches it (case, spacing, curly
    quotes); the claim is then judged against the shortest run of whole
    sentences that contains it, so a quote cut mid-sentence keeps its sentence.
    """
    wanted = normalize_text(quote)
    if not wanted or wanted not in normalize_text(source):
        return None
    spans = sentences(source)
    for width in range(1, min(len(spans), _MAX_QUOTE_SENTENCES) + 1):
        for i in range(len(spans) - width + 1):
            a, b = spans[i][0], spans[i + width - 1][1]
            if wanted in normalize_text(source[a:b]):
                return best_support(claim, source[a:b])
    return best_support(claim, source)


def lead_sentences(text: str, limit: int = 300) -> str:
    """The first sentence of ``text``, and the second if both fit in ``limit`` characters.

    Whole sentences, never a cut word: an excerpt quoted as a claim stays checkable.
    """
    spans = sentences(text)
    if not spans:
        return text.strip()
    a, b = spans[0]
    if len(spans) > 1 and spans[1][1] - a <= limit:
        b = spans[1][1]
    return text[a:b]
