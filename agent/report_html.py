"""A run's report as one self-contained HTML page (``ponder run -o report.html``).

Everything a page or the model wrote is untrusted: every piece of text goes
through `html.escape` (quotes too, since quotes sit in ``title`` attributes),
only ``http(s)`` sources become links, and a Content-Security-Policy that
allows no script, no request and no frame stands behind the escaping. Each
citation mark shows its quote on hover (its ``title``) and links to the
sources table at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import urlsplit

from agent.report import RunReport
from agent.state import Citation, ReportClaim

__all__ = ["render_html"]

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"
_STYLE = """
body{font:16px/1.55 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem}
.meta{color:#666;font-size:.9rem}
a.cite{text-decoration:none;font-size:.8em;vertical-align:super;cursor:help}
.unsupported{color:#a33}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-top:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
blockquote{margin:.2rem 0;color:#444;border-left:3px solid #ddd;padding-left:.5rem}
"""
_MARK = re.compile(r"\[(\d+)\]")


def _text(value: str) -> str:
    return escape(value, quote=True)


def _link(source: str, label: str) -> str:
    """A link for a web source; any other source (a corpus path, ``javascript:``) is text."""
    if urlsplit(source).scheme in ("http", "https"):
        return f'<a href="{_text(source)}" rel="noreferrer noopener">{_text(label)}</a>'
    return f"<code>{_text(label)}</code>" if label == source else _text(label)


def _mark(n: int, quotes: Iterable[str]) -> str:
    hover = "\n\n".join(" ".join(q.split()) for q in quotes)
    return f'<a class="cite" href="#ref-{n}" title="{_text(hover)}">[{n}]</a>'


def _claims(claims: Sequence[ReportClaim]) -> str:
    out = []
    for claim in claims:
        by_n: dict[int, list[str]] = {}
        for c in claim.citations:
            by_n.setdefault(c.n, []).append(c.quote)
        if by_n:
            marks = "".join(_mark(n, quotes) for n, quotes in by_n.items())
            out.append(f"{_text(claim.text)}{marks}")
        else:
            out.append(
                f'<span class="unsupported">{_text(claim.text)} <em>(unsupported)</em></span>'
            )
    return "<p>" + " ".join(out) + "</p>"


def _short_answer(report: RunReport) -> str:
    """A short answer's paragraphs, its ``[n]`` marks turned into quoted links."""
    body = report.answer.split("\n\n**Sources**", 1)[0]
    quotes: dict[int, list[str]] = {}
    for c in report.citations:
        quotes.setdefault(c.n, []).append(c.quote)
    paragraphs = []
    for block in body.split("\n\n"):
        if not block.strip() or block.startswith("_Citation check"):
            continue
        escaped = _text(block)
        linked = _MARK.sub(
            lambda m: _mark(int(m[1]), quotes[int(m[1])]) if int(m[1]) in quotes else m[0],
            escaped,
        )
        paragraphs.append("<p>" + linked.replace("\n", "<br>") + "</p>")
    return "\n".join(paragraphs)


def _sources(report: RunReport) -> str:
    quotes: dict[int, list[Citation]] = {}
    for c in report.citations:
        quotes.setdefault(c.n, []).append(c)
    rows = []
    if report.references:
        listed = [(r.n, r.title, r.source, r.kind) for r in report.references]
    else:
        listed = [(n, cs[0].title, cs[0].source, cs[0].kind) for n, cs in quotes.items()]
    for n, title, source, kind in listed:
        label = title or source
        where = _link(source, label)
        if title:
            where += f'<br><span class="meta">{_link(source, source)}</span>'
        if kind == "snippet":
            where += ' <span class="meta">(search snippet)</span>'
        said = "".join(f"<blockquote>{_text(c.quote)}</blockquote>" for c in quotes.get(n, []))
        rows.append(f'<tr id="ref-{n}"><td>{n}</td><td>{where}</td><td>{said}</td></tr>')
    if not rows:
        return ""
    return (
        "<h2>Sources</h2>\n<table><thead><tr><th>#</th><th>Source</th><th>Quoted</th></tr>"
        "</thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )


def render_html(report: RunReport) -> str:
    """The report as one HTML page that needs nothing else (no script, no request)."""
    title = report.title or report.task
    parts = [f"<h1>{_text(title)}</h1>"]
    if report.title:
        parts.append(f'<p class="meta">Task: {_text(report.task)}</p>')
    status = report.status + (f" ({report.stop_reason})" if report.stop_reason else "")
    meta = f"Status: {status}"
    if report.citation_check:
        t = report.citation_check
        meta += f" · citations: {t.supported} of {t.checked} verified"
    parts.append(f'<p class="meta">{_text(meta)}</p>')
    if report.sections:
        if report.summary:
            parts.append("<h2>Summary</h2>" + _claims(report.summary))
        for section in report.sections:
            parts.append(f"<h2>{_text(section.title)}</h2>{_claims(section.claims)}")
    else:
        parts.append(_short_answer(report) or "<p><em>No answer.</em></p>")
    if report.gaps:
        parts.append(
            "<h2>Not established by the evidence</h2><ul>"
            + "".join(f"<li>{_text(g)}</li>" for g in report.gaps)
            + "</ul>"
        )
    parts.append(_sources(report))
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )
