"""``ponder export``: stored runs as fine-tuning examples or whole trajectories."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.options import StoreOpt

__all__ = ["export_command", "export_runs"]


class ExportFormat(StrEnum):
    openai = "openai"
    trajectory = "trajectory"


def _eval_score(options: dict[str, Any], state: dict[str, Any]) -> Any:
    from agent.export_records import EvalScore
    from agent.scoring import score_answer

    gold = options.get("eval")
    if not isinstance(gold, dict):
        return None
    answer = state.get("answer")
    got = score_answer(answer.markdown if answer else "", list(gold.get("answers") or []))
    return EvalScore(
        dataset=str(gold.get("dataset", "")),
        item=int(gold.get("item", 0)),
        correct=got.correct,
        score=1.0 if got.correct else 0.0,
    )


async def export_runs(
    store: Any,
    run_ids: list[str],
    fmt: ExportFormat,
    out: Path,
    *,
    status: str | None = None,
    verified_only: bool = False,
    min_score: float | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Write the runs' lines to ``out``; returns (runs kept, lines written)."""
    from agent.cli.session import checkpointed_state
    from agent.export import Redactor, chat_examples, trajectory_record, verified

    redactor = Redactor(env if env is not None else dict(os.environ))
    kept = lines = 0
    with out.open("w", encoding="utf-8") as f:
        for run_id in run_ids:
            record = store.get(run_id)
            if status is not None and record.status != status:
                continue
            state = {"task": record.task, "run_id": run_id}
            state |= await checkpointed_state(store, run_id)
            score = _eval_score(record.options, state)
            if verified_only and (not verified(state) or (score is not None and not score.correct)):
                continue
            if min_score is not None and (score is None or score.score < min_score):
                continue
            kept += 1
            if fmt is ExportFormat.openai:
                for example in chat_examples(state, redactor):
                    f.write(json.dumps(example.to_training_line(), ensure_ascii=False) + "\n")
                    lines += 1
            else:
                traj = trajectory_record(state, redactor, status=record.status, eval_score=score)
                f.write(traj.model_dump_json(by_alias=True) + "\n")
                lines += 1
    return kept, lines


def export_command(
    run_ids: Annotated[list[str] | None, typer.Argument(help="Runs to export.")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Every run in the store.")] = False,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="openai (chat fine-tuning) or trajectory.")
    ] = ExportFormat.trajectory,
    output: Annotated[Path, typer.Option("-o", "--output", help="The JSONL file to write.")] = Path(
        "export.jsonl"
    ),
    status: Annotated[str | None, typer.Option(help="Only runs that ended so (e.g. done).")] = None,
    verified_only: Annotated[
        bool, typer.Option(help="Only runs whose citations all held (and correct, if scored).")
    ] = False,
    min_score: Annotated[
        float | None, typer.Option(help="Only eval-scored runs with at least this score.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Export stored runs as JSONL: fine-tuning examples or whole trajectories."""
    import asyncio

    from agent.cli.app import _fail_on, _store
    from agent.errors import ConfigError, UserError

    try:
        if bool(run_ids) == all_runs:
            raise ConfigError("name runs to export or pass --all (not both)")
        run_store = _store(store)
        ids = [r.run_id for r in run_store.list(1_000_000)] if all_runs else list(run_ids or [])
        for run_id in ids:
            run_store.get(run_id)  # an unknown id fails before anything is written
        kept, lines = asyncio.run(
            export_runs(
                run_store,
                ids,
                fmt,
                output,
                status=status,
                verified_only=verified_only,
                min_score=min_score,
            )
        )
    except UserError as exc:
        _fail_on(exc, 2)
    except OSError as exc:
        _fail_on(ConfigError(f"cannot write {output}: {exc}"), 2)
    typer.echo(f"exported {kept} run(s), {lines} line(s) to {output}", err=True)
