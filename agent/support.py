"""Whether a cited sentence supports a claim: a word test that can say no.

A quote found in the source proves only that the run fetched those words. This
test asks, with no model, whether they say what the claim says. The claim is
judged against one sentence of the cited text (read after the sentence before
it, where a pronoun finds its subject), never against the whole page, so words
scattered over a page do not add up to support:

- every number of the claim (digits, "two"…"twelve", and True/False/None) is in
  the sentence, exactly;
- every identifier (``asyncio.gather``, ``TaskGroup``, ``return_exceptions=True``)
  is in the sentence or the one before;
- its other content words, compared as Snowball stems (or a shared six-letter
  root) with stopwords ignored, are there too: the sentence holds at least half,
  the sentence before or the page title may hold others, and at most one in
  eight may be missing altogether;
- a "not" in the claim matches a "not" governing the claim's words in the
  sentence (to the end of its clause, parentheticals aside), and vice versa.

It is deliberately strict: a claim that paraphrases with synonyms fails it,
which costs an unsupported mark, never a false citation. Its precision and
recall on a labelled set are printed by ``python -m bench.citation_check``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

from agent.observation import normalize_text

__all__ = ["Support", "best_support", "lead_sentences", "sentences", "support_in_context"]

# Identifiers keep their dots and underscores (asyncio.gather, return_exceptions,
# sys.version_info); numbers keep a decimal or version part (3.11, 0.5).
_TOKEN = re.compile(
    r"[A-Za-z_][\w.]*=(?:True|False|None|\d+(?:\.\d+)?)"  # an argument: return_exceptions=True
    r"|\d+(?:[.,]\d+)*"
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\)|'t)?"
)
_NOT_AN_END = re.compile(r"(?:^\d+|\b(?:e\.g|i\.e|etc|vs|cf))\.$", re.IGNORECASE)
_CLAUSE = re.compile(r"[,;:.!?]\s|\s[-–—]\s|\n\s*\n")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_ASIDE = re.compile(r"\([^()]*\)")  # a parenthetical's "not" does not negate its sentence
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)|\n\s*\n+|\n(?=\s*(?:[-*+>#|]|\d+\.)\s)")
_NUMBER_TEXT = "zero one two three four five six seven eight nine ten eleven twelve"
_NEGATION_TEXT = "not no never none nothing cannot"
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
    another instead one ones way ways thing things something anything everything whatever
    get gets got able allow allows allowed means mean meaning i.e e.g etc
    return returns returned"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@dataclass(frozen=True)
class _Terms:
    """What a piece of text says, as sets the test can compare."""

    stems: frozenset[str]
    numbers: frozenset[str]  # digits, number words, and the literals True/False/None
    identifiers: frozenset[str]
    negated: bool
    denied: frozenset[str]  # stems a negation governs: from "not" to the clause's end


def _is_identifier(token: str) -> bool:
    return (
        "_" in token
        or "=" in token
        or token.endswith("()")
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
        if token in _LITERALS:
            numbers.add(low)
            continue
        if low.endswith("n't") or low in _NEGATIONS:
            continue
        if token[0].isdigit():
            numbers.add(token.replace(",", ""))
            continue
        if low in _NUMBER_WORDS:
            numbers.add(_NUMBER_WORDS[low])
            continue
        if _is_identifier(token):
            name = low.removesuffix("()").rstrip(".")
            identifiers.add(name)
            identifiers.add(name.rsplit(".", 1)[-1])
        # CancelledError also says "cancelled" and "error"; its whole name is kept above.
        for part in re.split(r"[._=()]", _CAMEL.sub(" ", token).lower().replace(" ", ".")):
            if part and part not in _STOPWORDS and len(part) > 1:
                stems.add(_stem(part))
    denied: set[str] = set()
    for clause in _CLAUSE.split(_ASIDE.sub(" ", text.translate(_APOSTROPHES))):
        scoped = False
        for token in _TOKEN.findall(clause):
            low = token.lower()
            if token not in _LITERALS and (low.endswith("n't") or low in _NEGATIONS):
                negated = scoped = True  # None is a value, not a negation
            elif scoped:
                denied.update(_stem(p) for p in re.split(r"[._=()]", low) if p)
    return _Terms(
        frozenset(stems), frozenset(numbers), frozenset(identifiers), negated, frozenset(denied)
    )


_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})
_LITERALS = frozenset({"True", "False", "None"})


@dataclass(frozen=True)
class Support:
    """The verdict of the support test on one claim and the sentence it was judged against."""

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
    merged: list[tuple[int, int]] = []
    for a, b in spans:  # "1." of a list, "e.g." and "i.e." end no sentence
        if merged and _NOT_AN_END.search(text[merged[-1][0] : merged[-1][1]]):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_MAX_QUOTE_SENTENCES = 6  # a longer quote is judged against the whole source


def _allowance(content_words: int) -> int:
    """Content words a claim may add beyond its sentence: one in eight, none for short claims.

    One missing word in a short claim is usually the word that makes it wrong
    (``gather`` for ``TaskGroup``, ``True`` for ``False``).
    """
    return content_words // 8


def _unmatched(stems: frozenset[str], pool: frozenset[str] | set[str]) -> set[str]:
    """Stems not in ``pool``; a shared prefix of six letters counts as a match, since
    Snowball leaves derivations apart ("convert" and "convers" from "conversions")."""
    left = set(stems - pool)
    return {s for s in left if not any(_same_root(s, p) for p in pool)}


def _same_root(a: str, b: str) -> bool:
    return len(a) >= _ROOT and len(b) >= _ROOT and a[:_ROOT] == b[:_ROOT]


_ROOT = 6


def _judge(claim: _Terms, sentence: str, before: str, title: str = "") -> Support:
    """``claim`` against one sentence, read after the sentence ``before`` it.

    Numbers and polarity must be the sentence's own, and it must hold at least
    half of the claim's words. The sentence before may supply names and, if it
    has the claim's polarity, the other words: that is where "it raises …"
    finds what "it" is. The page's ``title`` may supply names and words too
    (it is what "this module" is). The sentence after is never read, so a
    neighbour's contrasting entity ("… unlike gather") cannot lend its name.
    """
    span = _terms(sentence)
    near = _terms(before)
    heading = _terms(title)
    if not claim.stems and not claim.numbers and not claim.identifiers:
        return Support(False, sentence, "the claim says nothing checkable")
    # "maxsize=0" in the source says 0 too.
    values = {i.rsplit("=", 1)[1] for i in span.identifiers if "=" in i}
    wrong_numbers = sorted(n for n in claim.numbers if n not in span.numbers | span.stems | values)
    if wrong_numbers:
        return Support(False, sentence, f"{', '.join(wrong_numbers)} not in the source")
    named = span.identifiers | span.stems | near.identifiers | heading.identifiers | heading.stems
    # An identifier written as a plain word in the source still counts ("taskgroup").
    unknown = sorted(i for i in claim.identifiers if i not in named and _stem(i) not in named)
    if unknown:
        return Support(False, sentence, f"{', '.join(unknown)} not in the source")
    lent = {_stem(p) for i in near.identifiers for p in re.split(r"[._=()]", i) if p}
    lent |= heading.stems
    if near.negated == claim.negated:
        lent |= near.stems
    missing = tuple(sorted(_unmatched(claim.stems, span.stems | lent)))
    own = len(claim.stems) - len(_unmatched(claim.stems, span.stems))
    if len(missing) > _allowance(len(claim.stems)) or 2 * own < len(claim.stems):
        absent = missing or tuple(sorted(claim.stems - span.stems))
        return Support(False, sentence, f"words not in the source: {', '.join(absent)}", missing)
    # The sentence denies the claim's words only where a "not" governs them, so
    # "coroutines that were never awaited" does not negate "it logs callbacks".
    denies = bool(claim.stems & span.denied)
    if claim.negated != denies:
        said = "negates" if claim.negated else "affirms"
        return Support(False, sentence, f"the claim {said} what the source does not", missing)
    return Support(True, sentence, "", missing)


def best_support(claim: str, text: str, *, title: str = "") -> Support:
    """The test against the sentence of ``text`` that best fits ``claim``.

    One sentence (read after the one before it), never the whole passage, so
    words scattered over a page do not add up to support. A supporting
    sentence wins; among failing ones, the one sharing most words with the
    claim explains the failure.
    """
    terms = _terms(claim)
    spans = sentences(text)
    best: Support | None = None
    best_key: tuple[int, int, int] = (2, 0, 0)
    for i, (a, b) in enumerate(spans):
        before = text[spans[i - 1][0] : spans[i - 1][1]] if i else ""
        verdict = _judge(terms, text[a:b], before, title)
        if verdict.supported:
            key = (0, len(verdict.missing), b - a)
        else:
            key = (1, -len(terms.stems & _terms(text[a:b]).stems), b - a)
        if best is None or key < best_key:
            best, best_key = verdict, key
    return best if best is not None else Support(False, "", "the source is empty")


def support_in_context(claim: str, quote: str, source: str, *, title: str = "") -> Support | None:
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
                return best_support(claim, source[a:b], title=title)
    return best_support(claim, source, title=title)


def lead_sentences(text: str) -> str:
    """The first real sentence of ``text`` (headings and scraps skipped), whole.

    An excerpt quoted as a claim (a partial answer built without the model)
    stays one whole sentence, so the support test judges it against itself.
    """
    spans = sentences(text)
    for a, b in spans:
        piece = text[a:b]
        if len(piece) >= 20 and not piece.lstrip().startswith(("#", "|")):
            return piece
    return text[spans[0][0] : spans[0][1]] if spans else text.strip()
