"""User text as an FTS5 query that can never be a syntax error.

FTS5 has its own query language (quotes, AND/OR/NOT, NEAR, column filters,
prefix stars); a question typed by a model must not be read as any of it.
"""

from __future__ import annotations

import re

__all__ = ["match_expression"]

_STOPWORD_TEXT = (
    "a about an and are as at be been but by can could did do does doing for from had has "
    "have how i if in into is it its me my of on or our should so than that the their them "
    "then there these they this those to was we were what when where which who whom why "
    "will with would you your"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_TERM = re.compile(r"\w+(?:[.\-]\w+)*", re.UNICODE)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_TERMS = 32


def match_expression(query: str) -> str | None:
    """An FTS5 query that cannot be a syntax error: quoted words, OR-combined.

    Dotted or snake_case identifiers (``asyncio.gather``) are also added as
    phrases, so an exact identifier ranks above its words scattered apart.
    None when nothing searchable is left once stopwords are dropped.
    """
    terms: dict[str, None] = {}
    for token in _TERM.findall(query.casefold()):
        words = _WORD.findall(token)
        if len(words) > 1:
            terms['"' + " ".join(words) + '"'] = None
        for word in words:
            if word not in _STOPWORDS and (len(word) > 1 or word.isdigit()):
                terms[f'"{word}"'] = None
    if not terms:
        return None
    return " OR ".join(list(terms)[:_MAX_TERMS])
