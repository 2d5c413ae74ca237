"""The report: one printed table, the goals checked, ``peers.json`` and ``peers.png``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_DIR", "goals", "table", "write_chart", "write_json"]

RESULTS_DIR = Path(__file__).with_name("results")


def _s(stats: dict[str, float] | None, unit: str = "s", digits: int = 2) -> str:
    if not stats:
        return "-"
    m, lo, hi = stats["median"], stats["min"], stats["max"]
    return f"{m:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def _n(stats: dict[str, float] | None) -> str:
    return "-" if not stats else f"{stats['median']:,.0f}"


def _find(rows: list[dict[str, Any]], label: str, framework: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["label"] == label and r["framework"] == framework), None)


def _check(row: dict[str, Any]) -> str:
    """Answer quality: facts found (of N) and whether exact values came through."""
    score = row.get("score") or {}
    parts = []
    if score.get("facts"):
        facts, of = score["facts"], score["facts_of"]["median"]
        parts.append(f"facts {facts['min']:.0f}-{facts['max']:.0f}/{of:.0f}")
    if score.get("exact"):
        exact = score["exact"]
        parts.append("exact" if exact["min"] == 1 else f"exact {exact['median']:.0%}")
    return ", ".join(parts)


def _protocol_rows(section: dict[str, Any], name: str, metric_cols: bool = True) -> list[list[str]]:
    out = []
    ratios = section.get("ratios", {})
    for row in section["summary"]:
        ratio = (
            ratios.get(row["framework"], {}).get(row["label"])
            if row["framework"] != "ponder"
            else None
        )
        eff = f" eff {row['efficiency']['median']:.2f}" if row.get("efficiency") else ""
        failed = f" [{row['errors']}/{row['runs']} failed]" if row["errors"] else ""
        out.append(
            [
                name,
                row["label"],
                row["framework"],
                _s(row["wall_s"]) + failed + eff,
                _n(row["model_calls"]),
                f"{_n(row['input_tokens'])}/{_n(row['output_tokens'])}",
                _n(row["peak_rss_mb"]),
                _check(row),
                _s(ratio, "x") if ratio else "",
            ]
        )
    return out


def table(report: dict[str, Any]) -> str:
    head = ["sec", "case", "framework", "wall median (min-max)", "calls", "tokens in/out",
            "RSS MB", "check", "ponder/this (min-max) | note"]  # fmt: skip
    rows: list[list[str]] = []
    for key, name in (("b1", "B1"), ("b2", "B2"), ("b4", "B4"), ("real", "B1r")):
        if key in report:
            rows += _protocol_rows(report[key], name)
    if "b3" in report:
        for r in report["b3"]["overhead"]:
            if "error" in r:
                rows.append(
                    ["B3", "overhead", r["framework"], "error", "", "", "", r["error"][:40], ""]
                )
                continue
            stream = "" if r.get("chunk_tokens", 2) <= 2 else ", whole replies"
            bytes_ = f"{r['bytes_per_step']:,.0f} B/step" if r.get("bytes_per_step") else ""
            rows.append(
                [
                    "B3",
                    f"ckpt {r['checkpointer']}{stream}",
                    r["framework"],
                    f"{r['per_step_us']:,.0f} us/step",
                    "",
                    f"run K={r['k_small']} {r['run_small_s'] * 1e3:.1f} ms",
                    "",
                    f"1st run {r['first_run_s'] * 1e3:.0f} ms",
                    bytes_,
                ]
            )
        for d in report["b3"]["drift"]:
            if "error" in d:
                rows.append(
                    ["B3", "drift", d["framework"], "error", "", "", "", d["error"][:40], ""]
                )
                continue
            rows.append(
                [
                    "B3",
                    f"drift {d['runs']} runs",
                    d["framework"],
                    f"{d['kb_per_run']:.2f} KB/run",
                    "",
                    f"{d['drift_mb']:+.1f} MB",
                    f"{d['samples'][-1][1]:.0f}",
                    "",
                    "",
                ]
            )
    if "b5" in report:
        fp = report["b5"].get("first_plan") or {}
        demo = report["b5"].get("demo_model") or {}
        first = f"1st token {fp['first_token_s']:.1f}s, " if "first_token_s" in fp else ""
        text = (
            f"{first}1st step {fp.get('first_step_s', float('nan')):.1f}s, "
            f"plan {fp['first_plan_s']:.1f}s"
            if "first_plan_s" in fp
            else f"{first}no plan after {fp.get('failed_after_s', 0):.0f}s"
        )
        speeds = ""
        if demo:
            speeds = (
                f"prompt {demo['prompt_processing']['tokens_per_s']:.0f} tok/s, "
                f"gen {demo['generation_free']['tokens_per_s']:.0f} tok/s free, "
                f"{demo['generation_json_schema']['tokens_per_s']:.0f} schema"
            )
        rows.append(
            [
                "B5",
                "demo model",
                "ponder",
                text,
                "",
                speeds,
                "",
                f"load {fp.get('load_s', 0):.1f}s",
                "",
            ]
        )
    if "cold" in report:
        c = report["cold"]
        for key, label in (("help_s", "ponder --help"), ("run_help_s", "ponder run --help"),
                           ("first_call_s", "1st model call imports")):  # fmt: skip
            cpu = c.get(key.replace("_s", "_cpu_s"))
            note = f"CPU {cpu['median']:.3f}s" if cpu else ""
            if "first" in c[key]:
                note += f"; cold (1st) run {c[key]['first']:.3f}s"
            rows.append(["cold", label, "ponder", _s(c[key], "s", 3), "", "", "", "", note])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _median(row: dict[str, Any] | None, metric: str) -> float | None:
    stats = row.get(metric) if row else None
    return stats["median"] if stats else None


def failed_runs(rows: list[dict[str, Any]], label: str, *frameworks: str) -> int:
    """Failed repetitions over the cells of `frameworks` on `label`."""
    return sum((_find(rows, label, fw) or {}).get("errors", 0) for fw in frameworks)


def goals(report: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for every goal the brief sets; met is None when not measured.

    A goal whose cells had any failed repetition is not met, whatever the median
    of the runs that finished says.
    """
    out: list[tuple[str, str, bool | None]] = []

    def add(
        goal: str,
        value: float | None,
        limit: float,
        fmt: str = "{:.2f}",
        errors: int = 0,
        at_least: bool = False,
    ) -> None:
        if value is None:
            out.append((goal, f"not measured ({errors} failed)" if errors else "not measured",
                        False if errors else None))  # fmt: skip
        elif errors:
            out.append((goal, f"{fmt.format(value)}, {errors} failed reps", False))
        else:
            out.append((goal, fmt.format(value), value >= limit if at_least else value <= limit))

    if "b1" in report:
        rows = report["b1"]["summary"]
        for label, note in (("fan-out N=8", ""), ("fan-out N=8, no thought", " (no thought)")):
            if _find(rows, label, "ponder") is None:
                continue
            for peer, limit in (("langchain-seq", 1 / 3), ("smolagents-seq", 1 / 3),
                                ("langchain-par", 1.0), ("smolagents-par", 1.0),
                                ("smolagents-par-n", 1.0)):  # fmt: skip
                if _find(rows, label, peer) is None:
                    continue
                ratio = report["b1"].get("ratios", {}).get(peer, {}).get(label)
                value = ratio["median"] if ratio else None
                errors = failed_runs(rows, label, "ponder", peer)
                add(f"B1 N=8{note} wall ponder/{peer} <= {limit:.2f}", value, limit, errors=errors)
        label = "fan-out N=8"
        me = _find(rows, label, "ponder")
        if me is not None:
            calls = _median(me, "model_calls")
            theirs = _median(_find(rows, label, "langchain-par"), "model_calls")
            add(
                f"B1 N=8 model calls ponder <= ReAct's ({theirs or 0:.0f})",
                calls,
                theirs or 0,
                "{:.0f}",
                errors=failed_runs(rows, label, "ponder", "langchain-par"),
            )
    for label in ("fan-out N=8", "fan-out N=16"):  # compact plans, the goals
        for peer in ("langchain-par", "smolagents-par"):
            limit = 0.85 if label.endswith("=8") else 0.9
            ratio = report.get("b1", {}).get("compact_ratios", {}).get(peer, {}).get(label)
            if ratio:
                add(f"B1 {label[8:]} wall ponder-compact/{peer} <= {limit}", ratio["median"], limit)
    if "plan_tokens" in report:
        for r in report["plan_tokens"]["rows"]:
            if r["n"] == 8 and r["tokenizer"] == "estimate":
                add("plan output tokens per step, compact (B1 N=8 plan) <= 15",
                    r["compact_per_step"], 15.0, "{:.1f}")  # fmt: skip
    if "b2" in report:
        for row in report["b2"]["summary"]:
            if row["framework"] == "ponder":
                add(
                    f"B2 {row['label']}: critical-path efficiency >= 0.9",
                    _median(row, "efficiency"),
                    0.9,
                    errors=row["errors"],
                    at_least=True,
                )
                exact = (row.get("score") or {}).get("exact")
                out.append(
                    (
                        f"B2 {row['label']}: exact answers",
                        _check(row) + (f", {row['errors']} failed reps" if row["errors"] else ""),
                        bool(exact and exact["min"] == 1) and not row["errors"],
                    )
                )
    if "b3" in report:
        rows = [r for r in report["b3"]["overhead"] if "error" not in r]
        none = [r for r in rows if r["checkpointer"] == "none"]
        peers = [r for r in none if r["framework"] != "ponder"]
        light = min(peers, key=lambda r: r["per_step_us"]) if peers else {}
        for mine in (r for r in none if r["framework"] == "ponder" and light):
            how = "streamed" if mine.get("chunk_tokens", 2) <= 2 else "whole replies"
            add(
                f"B3 per-step overhead ponder ({how}) <= 1.0 ms "
                f"(lightest peer: {light['framework']} {light['per_step_us']:,.0f} us)",
                max(0.0, mine["per_step_us"]) / 1e3,
                1.0,
                "{:.2f} ms",
            )
        sqlite = next(
            (r for r in rows if r["framework"] == "ponder" and r["checkpointer"] == "sqlite"), None
        )
        add("B3 ponder SQLite <= 2.0 ms/step", sqlite["per_step_us"] / 1e3 if sqlite else None, 2.0,
            "{:.2f} ms")  # fmt: skip
    if "b4" in report:
        for peer in ("langchain-seq", "smolagents-seq"):
            r = report["b4"].get("ratios", {}).get(peer, {}).get("token growth K=8")
            errors = failed_runs(report["b4"]["summary"], "token growth K=8", "ponder", peer)
            add(f"B4 K=8 input tokens ponder/{peer} <= 0.33", r["median"] if r else None, 1 / 3,
                errors=errors)  # fmt: skip
    for key in ("b1", "b4", "real"):
        for row in report.get(key, {}).get("summary", []):
            if row["framework"] != "ponder":
                continue
            score = row.get("score") or {}
            facts, of, exact = score.get("facts"), score.get("facts_of"), score.get("exact")
            complete = (not facts or not of or facts["min"] == of["median"]) and (
                not exact or exact["min"] == 1
            )
            complete = complete and not row["errors"]
            if not complete or row["label"] in ("fan-out N=8", "token growth K=8"):
                goal = f"{key.upper()} {row['label']}: {row['framework']} answer complete and exact"
                out.append((goal, _check(row), complete))
    if "cold" in report:
        add("cold ponder --help <= 0.25 s", report["cold"]["help_s"]["median"], 0.25, "{:.3f} s")
        add(
            "cold ponder run --help <= 0.25 s",
            report["cold"]["run_help_s"]["median"],
            0.25,
            "{:.3f} s",
        )
    if "reading" in report:
        add(
            f"HTTP-first reading, {report['reading']['pages']} local pages, 4 at a time "
            ">= 20 pages/s",
            report["reading"].get("http_x4_pages_s"),
            20.0,
            "{:.1f} pages/s",
            at_least=True,
        )
    if "depth" in report:
        for label, ratio in report["depth"]["over_five"].items():
            if label.startswith("short + notes"):
                add(
                    f"depth: {report['depth']['pages']} pages read and noted ({label}) "
                    "<= 1.5x the wall of reading 5",
                    ratio,
                    1.5,
                    "{:.2f}x",
                )
    if "main_job" in report:
        job = report["main_job"]
        failed = sum(1 for r in job["runs"] if "error" in r)
        add("README main job (demo model) wall <= 15 s", job["wall_s"], 15.0, "{:.1f} s",
            errors=failed)  # fmt: skip
        add("README main job first step dispatched <= 6 s", job["first_step_s"], 6.0,
            "{:.1f} s", errors=failed)  # fmt: skip
    return out


def write_json(report: dict[str, Any], path: Path | None = None) -> Path:
    path = path or RESULTS_DIR / "peers.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {**report, "load_average": os.getloadavg()}
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return path


def write_chart(report: dict[str, Any], path: Path | None = None) -> Path | None:
    from bench.chart import draw

    path = path or RESULTS_DIR / "peers.png"
    return draw(report, path)
