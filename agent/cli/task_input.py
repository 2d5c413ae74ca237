"""Tasks as the CLI reads them: from an argument, a task file, or a batch file.

Files are read only up to a cap, so ``--task-file /dev/zero`` or a huge batch
file is refused instead of filling memory; what is read must be UTF-8.
"""

from __future__ import annotations

from pathlib import Path

from agent.errors import ConfigError

__all__ = ["MAX_TASK_CHARS", "read_batch", "read_task"]

MAX_TASK_CHARS = 20_000
_MAX_BATCH_BYTES = 10_000_000


def _read_capped(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{path} is larger than the limit of {limit} bytes")
    return data


def read_task(task: str | None, task_file: Path | None) -> str:
    """The task text, control characters dropped; empty or too long is a `ConfigError`."""
    if task_file is not None:
        try:
            text = _read_capped(task_file, 4 * MAX_TASK_CHARS).decode("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the task file {task_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"the task file {task_file} is not UTF-8 text") from exc
    else:
        text = task or ""
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()
    if not text:
        raise ConfigError("the task is empty", hint="give the question as TASK or --task-file")
    if len(text) > MAX_TASK_CHARS:
        raise ConfigError(f"the task is {len(text)} characters; the limit is {MAX_TASK_CHARS}")
    return text


def read_batch(file: Path) -> list[str]:
    """One task per non-empty line; lines starting with ``#`` are comments."""
    try:
        lines = _read_capped(file, _MAX_BATCH_BYTES).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read tasks from {file}: {exc}") from exc
    tasks = [t.strip() for t in lines if t.strip() and not t.lstrip().startswith("#")]
    if not tasks:
        raise ConfigError(f"{file} holds no tasks")
    return tasks
