"""``ponder eval``: run a dataset under several configurations and score every answer.

Each (item, configuration) is one run in the store with a name derived from
the dataset, the model and the configuration, so a second ``ponder eval`` of
the same dataset continues an interrupted eval (see `agent.cli._eval_runs`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.options import StoreOpt

__all__ = ["eval_command"]


def _ints(text: str, name: str) -> list[int]:
    from agent.errors import ConfigError

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"--{name} takes comma-separated whole numbers, got {text!r}") from exc
    if not values or min(values) < 1:
        raise ConfigError(f"--{name} values must be 1 or more")
    return values


def eval_command(
    dataset: Annotated[Path, typer.Argument(help="JSONL: question, answers, sources, corpus.")],
    samples: Annotated[str, typer.Option(help="Reasoning paths to compare, e.g. 1,3,5.")] = "1",
    effort: Annotated[str, typer.Option(help="Efforts to compare, e.g. low,medium.")] = "low",
    model: Annotated[str, typer.Option(help="Model spec, as for `ponder run`.")] = "auto",
    base_url: Annotated[str | None, typer.Option()] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Runs at once.")] = 2,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items.")] = None,
    max_model_calls: Annotated[int, typer.Option(min=1, max=1000)] = 24,
    timeout: Annotated[float, typer.Option(min=1.0, help="Per-run wall-clock budget.")] = 600.0,
    out: Annotated[Path, typer.Option(help="Folder for results.json and eval.png.")] = Path(
        "eval-results"
    ),
    store: StoreOpt = None,
) -> None:
    """Score answers on a dataset per configuration: accuracy, citations, cost."""
    import asyncio

    from agent.cli._eval_runs import run_eval
    from agent.cli.app import _fail_on, _store
    from agent.cli.session import RunOptions
    from agent.errors import ConfigError, UserError
    from agent.evaluation import EvalConfig, load_dataset, metrics, render_table, write_chart
    from agent.settings import Budgets, Settings

    try:
        items = load_dataset(dataset)[:limit]
        efforts = [e.strip() for e in effort.split(",") if e.strip()]
        bad = [e for e in efforts if e not in ("low", "medium", "high", "auto")]
        if bad or not efforts:
            raise ConfigError(f"--effort takes low, medium, high or auto, got {effort!r}")
        configs = [
            EvalConfig(samples=n, effort=e) for e in efforts for n in _ints(samples, "samples")
        ]
        run_store = _store(store)
        base = RunOptions(
            task="-",
            model=model,
            base_url=base_url,
            search="web",
            settings=Settings(budgets=Budgets(max_model_calls=max_model_calls, timeout_s=timeout)),
        )
        digest = hashlib.sha256(dataset.read_bytes() + f"{model}|{base_url}".encode())
        results = asyncio.run(
            run_eval(
                items,
                configs,
                base,
                store=run_store,
                concurrency=concurrency,
                key=digest.hexdigest()[:8],
                dataset=dataset.name,
            )
        )
        rows = metrics(results)
        out.mkdir(parents=True, exist_ok=True)
        summary = {
            "dataset": str(dataset),
            "model": model,
            "metrics": [r.model_dump(mode="json") for r in rows],
            "items": [r.model_dump(mode="json") for r in results],
        }
        (out / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        write_chart(rows, out / "eval.png", title=f"{dataset.name} · {model}")
    except UserError as exc:
        _fail_on(exc, 2)
    except OSError as exc:
        _fail_on(ConfigError(f"cannot write results to {out}: {exc}"), 2)
    typer.echo(render_table(rows))
    typer.echo(f"results: {out / 'results.json'}, chart: {out / 'eval.png'}", err=True)
