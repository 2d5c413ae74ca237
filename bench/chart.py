"""``peers.png``: the figures of the report at a glance (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["draw"]

COLORS = {
    "ponder": "#d62728",
    "langchain-seq": "#1f77b4",
    "langchain-par": "#aec7e8",
    "smolagents-seq": "#2ca02c",
    "smolagents-par": "#98df8a",
}


def _series(
    summary: list[dict[str, Any]], metric: str, key: str
) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for row in summary:
        size = row["label"].split("=")[-1]
        if not row.get(metric) or not size.isdigit():  # variants ("..., no thought") are not sizes
            continue
        x = int(size)
        out.setdefault(row["framework"], []).append((x, row[metric]["median"]))
    return {fw: sorted(v) for fw, v in out.items()}


def _lines(ax: Any, summary: list[dict[str, Any]], metric: str, title: str, log: bool) -> None:
    for fw, points in _series(summary, metric, "label").items():
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", label=fw, color=COLORS.get(fw))
    ax.set_title(title, fontsize=9)
    if log:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def draw(report: dict[str, Any], path: Path) -> Path | None:
    panels = [k for k in ("b1", "b2", "b3", "b4") if k in report]
    if not panels:
        return None
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    flat = list(axes.flat)
    if "b1" in report:
        s = report["b1"]["summary"]
        _lines(flat[0], s, "wall_s", "B1 fan-out: wall time (s) vs N", True)
        _lines(flat[1], s, "model_calls", "B1 fan-out: model calls vs N", True)
        _lines(flat[2], s, "input_tokens", "B1 fan-out: input tokens vs N", True)
        flat[0].legend(fontsize=7)
    if "b2" in report:
        ax = flat[3]
        rows = report["b2"]["summary"]
        labels = sorted({r["label"] for r in rows})
        fws = [fw for fw in COLORS if any(r["framework"] == fw for r in rows)]
        width = 0.8 / max(1, len(labels))
        for i, label in enumerate(labels):
            ys = []
            for fw in fws:
                row = next((r for r in rows if r["framework"] == fw and r["label"] == label), None)
                ys.append(row["wall_s"]["median"] if row and row["wall_s"] else 0.0)
            ax.bar([j + i * width for j in range(len(fws))], ys, width, label=label)
        ax.set_xticks([j + width / 2 for j in range(len(fws))], fws, rotation=30, fontsize=7)
        ax.set_title("B2 dependencies: median wall (s)", fontsize=9)
        ax.legend(fontsize=7)
    if "b3" in report:
        ax = flat[4]
        rows = [r for r in report["b3"]["overhead"] if "error" not in r]
        names = [
            f"{r['framework']}\n{r['checkpointer']}"
            + ("" if r.get("chunk_tokens", 2) <= 2 else "\nwhole")
            for r in rows
        ]
        ax.bar(range(len(rows)), [r["per_step_us"] / 1e3 for r in rows],
               color=[COLORS.get(r["framework"], "grey") for r in rows])  # fmt: skip
        ax.set_xticks(range(len(rows)), names, rotation=90, fontsize=6)
        ax.set_title("B3 overhead: ms per added step (zero-latency model)", fontsize=9)
    if "b4" in report:
        _lines(
            flat[5], report["b4"]["summary"], "input_tokens", "B4 chain: input tokens vs K", True
        )
        flat[5].legend(fontsize=7)
    fig.suptitle(report.get("title", "Ponder vs peers"), fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
