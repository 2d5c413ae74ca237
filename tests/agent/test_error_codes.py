"""Error codes: one enum, one per error class, printed by the CLI, one README row each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import agent.errors as errors_module
from agent.errors import ErrorCode, PonderError
from bench.cli_runner import ponder

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_codes() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z-]+)` \|", section, flags=re.MULTILINE)


def _error_classes() -> list[type[PonderError]]:
    return [
        obj
        for obj in vars(errors_module).values()
        if isinstance(obj, type) and issubclass(obj, PonderError)
    ]


def test_every_code_has_one_readme_row_and_every_row_a_code() -> None:
    rows = _readme_codes()
    assert len(rows) == len(set(rows)), f"duplicate rows: {rows}"
    assert sorted(rows) == sorted(c.value for c in ErrorCode)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_carries_a_member_of_the_enum(cls: type[PonderError]) -> None:
    assert isinstance(cls.code, ErrorCode)


def test_the_cli_prints_the_code_with_the_error(tmp_path: Path) -> None:
    done = ponder(
        "run", "hello", "--model", "gtp4:x", "--search", "none", home=tmp_path, timeout=120
    )
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("ponder: error [model-spec]: "), done.stderr
    assert "Traceback" not in done.stderr
