"""Eval datasets, per-item scores and per-configuration metrics.

A dataset is JSONL, one item a line: ``question``, ``answers`` (accepted
answers), optional ``sources`` (gold pages or documents) and optional
``corpus`` (a folder, relative to the dataset file) or ``search`` (``web``,
``local``, ``none``; with ``local_web`` for a folder served on loopback).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import ConfigError

__all__ = [
    "ConfigMetrics",
    "EvalConfig",
    "EvalItem",
    "ItemResult",
    "load_dataset",
    "metrics",
    "render_table",
    "write_chart",
]


class EvalItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question: str = Field(min_length=1)
    answers: list[str] = Field(min_length=1)
    sources: list[str] = Field(default_factory=list)
    corpus: str | None = None
    search: Literal["web", "local", "corpus", "none"] | None = None
    local_web: str | None = None


def load_dataset(path: Path) -> list[EvalItem]:
    """The items of a JSONL dataset; corpus and local_web paths resolved against it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the dataset {path}: {exc}") from exc
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = EvalItem.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(
                f"{path}:{n}: not an eval item ({first})",
                hint='each line: {"question": ..., "answers": [...]}',
            ) from exc
        for field in ("corpus", "local_web"):
            value = getattr(item, field)
            if value is not None:
                resolved = (path.parent / value).resolve()
                if not resolved.is_dir():
                    raise ConfigError(f"{path}:{n}: {field} {resolved} is not a folder")
                item = item.model_copy(update={field: str(resolved)})
        items.append(item)
    if not items:
        raise ConfigError(f"the dataset {path} has no items")
    return items


class EvalConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    samples: int
    effort: str

    @property
    def label(self) -> str:
        return f"n={self.samples} effort={self.effort}"


class ItemResult(BaseModel):
    item: int
    config: EvalConfig
    run_id: str
    status: str
    correct: bool = False
    exact: bool = False
    citation_precision: float | None = None
    citation_recall: float | None = None
    supported_rate: float = 0.0
    model_calls: int = 0
    tokens: int = 0
    wall_s: float = 0.0
    error: str = ""


class ConfigMetrics(BaseModel):
    config: EvalConfig
    items: int
    accuracy: float
    exact_match: float
    citation_precision: float | None
    citation_recall: float | None
    supported_claim_rate: float
    model_calls: float = Field(description="mean per item")
    tokens: float = Field(description="mean per item")
    wall_s: float = Field(description="mean per item")
    failed: int


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def metrics(results: Sequence[ItemResult]) -> list[ConfigMetrics]:
    by_config: dict[EvalConfig, list[ItemResult]] = {}
    for r in results:
        by_config.setdefault(r.config, []).append(r)
    out = []
    for config, rs in sorted(by_config.items(), key=lambda kv: (kv[0].effort, kv[0].samples)):
        precision = [r.citation_precision for r in rs if r.citation_precision is not None]
        recall = [r.citation_recall for r in rs if r.citation_recall is not None]
        out.append(
            ConfigMetrics(
                config=config,
                items=len(rs),
                accuracy=_mean([float(r.correct) for r in rs]),
                exact_match=_mean([float(r.exact) for r in rs]),
                citation_precision=_mean(precision) if precision else None,
                citation_recall=_mean(recall) if recall else None,
                supported_claim_rate=_mean([r.supported_rate for r in rs]),
                model_calls=_mean([r.model_calls for r in rs]),
                tokens=_mean([r.tokens for r in rs]),
                wall_s=_mean([r.wall_s for r in rs]),
                failed=sum(1 for r in rs if r.status in ("failed", "interrupted", "running")),
            )
        )
    return out


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def render_table(rows: Sequence[ConfigMetrics]) -> str:
    """A Markdown table (readable in a terminal, pasteable into a README)."""
    head = (
        "| samples | effort | items | accuracy | exact | cite P | cite R | supported "
        "| calls | tokens | wall s | failed |"
    )
    lines = [head, "|" + "---|" * 12]
    for m in rows:
        lines.append(
            f"| {m.config.samples} | {m.config.effort} | {m.items} | {_pct(m.accuracy)} "
            f"| {_pct(m.exact_match)} | {_pct(m.citation_precision)} "
            f"| {_pct(m.citation_recall)} | {_pct(m.supported_claim_rate)} "
            f"| {m.model_calls:.1f} | {m.tokens:.0f} | {m.wall_s:.1f} | {m.failed} |"
        )
    return "\n".join(lines)


def write_chart(rows: Sequence[ConfigMetrics], path: Path, *, title: str = "") -> None:
    """Accuracy against samples (one line per effort) and against mean tokens."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("the chart needs matplotlib", hint="pip install 'ponder[bench]'") from exc
    fig, (by_n, by_cost) = plt.subplots(1, 2, figsize=(10, 4))
    for effort in sorted({m.config.effort for m in rows}):
        mine = sorted(
            (m for m in rows if m.config.effort == effort), key=lambda m: m.config.samples
        )
        xs = [m.config.samples for m in mine]
        ys = [100 * m.accuracy for m in mine]
        by_n.plot(xs, ys, marker="o", label=f"effort {effort}")
        by_cost.plot([m.tokens for m in mine], ys, marker="o", label=f"effort {effort}")
    by_n.set_xlabel("samples (reasoning paths)")
    by_n.set_ylabel("accuracy (%)")
    by_cost.set_xlabel("tokens per question")
    for ax in (by_n, by_cost):
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
