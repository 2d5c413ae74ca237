"""What a tool hands back: a typed observation, never an exception.

Tools built for Ponder return an `Observation` as the artifact of a
``content_and_artifact`` LangChain tool; any other tool's output is wrapped into
one by the tool registry. Citations point at `Passage` ids, so the quote a
citation carries is text the run really fetched.
"""

from __future__ import annotations

import html
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorKind",
    "ListItem",
    "Observation",
    "Passage",
    "ToolError",
    "fence",
    "fence_text",
    "normalize_text",
]

ErrorKind = Literal[
    "invalid_input",  # the model asked for something malformed: fix the input
    "not_found",  # the thing asked for does not exist
    "no_results",  # a search found nothing
    "rate_limited",  # the service throttled us; retrying later may work
    "timeout",  # the tool took longer than its limit
    "offline",  # the network or host is unreachable
    "refused",  # a guard refused it (SSRF, sandbox, path outside the corpus)
    "too_large",  # the result exceeded a size cap
    "unavailable",  # a dependency (browser, sandbox) is missing or crashed
    "error",  # anything else the tool reported
]


class ToolError(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ErrorKind
    message: str
    retryable: bool = False


class Passage(BaseModel):
    """One citable piece of evidence: an exact excerpt of a fetched document."""

    model_config = ConfigDict(frozen=True)

    ref: str = Field(description="URL, or corpus path with #anchor")
    title: str = ""
    text: str = Field(description="the exact excerpt, as it appears in the document")
    start: int | None = Field(default=None, description="offset of text in the document")
    end: int | None = None
    kind: Literal["document", "snippet", "output"] = Field(
        default="document",
        description="an excerpt of a fetched or stored document; a search result's snippet "
        "(a teaser, not the page); a tool's own output",
    )


class ListItem(BaseModel):
    """One entry of a list a step produced (a search result, a link on a page).

    Lists are what a later step can map over, one child step per item
    (``s1.results[:5]``): each item carries the URL or reference to act on.
    """

    model_config = ConfigDict(frozen=True)

    url: str = Field(description="the URL (or corpus path#anchor) the item points at")
    title: str = ""
    snippet: str = Field(default="", description="a short teaser, never citable text")


class Observation(BaseModel):
    """The result of one tool call, as stored in the run and shown to the model."""

    model_config = ConfigDict(frozen=True)

    tool: str
    ok: bool
    content: str = Field(default="", description="what the model reads")
    passages: tuple[Passage, ...] = ()
    documents: dict[str, str] = Field(
        default_factory=dict,
        description="full text of each fetched document by ref, to check quotes against",
    )
    value: str = Field(default="", description="the primary result, for {{sN}} placeholders")
    fields: dict[str, str] = Field(default_factory=dict, description="for {{sN.field}}")
    lists: dict[str, tuple[ListItem, ...]] = Field(
        default_factory=dict,
        description="named lists a later step can map over: 'results' of a search, "
        "'links' of a page",
    )
    error: ToolError | None = None
    untrusted: bool = Field(
        default=False, description="text from the web or files: data, never instructions"
    )
    via: str = Field(default="", description="how it was obtained, e.g. http or browser")
    truncated: bool = False

    @classmethod
    def failure(
        cls,
        tool: str,
        kind: ErrorKind,
        message: str,
        *,
        retryable: bool = False,
        via: str = "",
    ) -> Observation:
        return cls(
            tool=tool,
            ok=False,
            content=f"error ({kind}): {message}",
            error=ToolError(kind=kind, message=message, retryable=retryable),
            via=via,
        )

    def items(self, name: str) -> tuple[ListItem, ...]:
        """The list called ``name``; `KeyError` naming the lists there are."""
        if name not in self.lists:
            known = ", ".join(sorted(self.lists)) or "none"
            raise KeyError(f"{self.tool} has no list {name!r} (lists: {known})")
        return self.lists[name]

    def source_text(self, ref: str) -> str:
        """The stored document a passage came from (or the passages' own text)."""
        if ref in self.documents:
            return self.documents[ref]
        return "\n".join(p.text for p in self.passages if p.ref == ref)


def fence(obs: Observation, *, limit: int = 20_000) -> str:
    """The text a model reads; untrusted text is fenced as data it must not obey."""
    text = obs.content if len(obs.content) <= limit else obs.content[:limit] + "\n[…truncated]"
    if not obs.untrusted:
        return text
    return fence_text(text, obs.passages[0].ref if obs.passages else obs.tool)


# A closing tag in any spelling a model might honour: any case, space after "</".
_CLOSING_TAG = re.compile(r"<(?=/\s*untrusted_data)", re.IGNORECASE)


def fence_text(text: str, source: str, *, ident: str | None = None) -> str:
    """``text`` fenced as untrusted data; the fence cannot be closed from inside it."""
    body = _CLOSING_TAG.sub("&lt;", text)
    attrs = f'id="{html.escape(ident, quote=True)}" ' if ident is not None else ""
    attrs += f'source="{html.escape(source, quote=True)}"'
    return f"<untrusted_data {attrs}>\n{body}\n</untrusted_data>"


_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"})


def normalize_text(text: str) -> str:
    """Whitespace, curly quotes and case folded, so quote checks are fair but exact."""
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip().casefold()
