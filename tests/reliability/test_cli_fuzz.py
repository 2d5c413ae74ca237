"""Bad `ponder` input: clear errors, exit code 2, no traceback; odd but fine input still runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import cli_fuzz as cf


@pytest.mark.parametrize("case", cf.BAD_INPUTS, ids=lambda c: c.name)
def test_bad_input_is_a_clean_usage_error(case: cf.CliCase, tmp_path: Path) -> None:
    assert cf.run_cli_case(case, tmp_path) == []


@pytest.mark.parametrize("case", cf.GOOD_INPUTS, ids=lambda c: c.name)
def test_odd_but_acceptable_input_runs(case: cf.CliCase, tmp_path: Path) -> None:
    assert cf.run_cli_case(case, tmp_path) == []


@pytest.mark.parametrize("case", cf.SUBPROCESS_CASES, ids=lambda c: c[0])
def test_real_process(case: tuple[str, list[bytes], int, str], tmp_path: Path) -> None:
    _name, args, code, phrase = case
    got, output = cf.run_subprocess_case(args, tmp_path)
    assert cf.judge_cli(got, output, code, phrase) == []


FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("fuzz")
    return home, cf.prepare_home(home)


def _fuzz_args(values: dict[str, str]) -> list[str]:
    return ["run", "--model", f"script:{values['{script}']}", "--corpus", values["{corpus}"],
            "--tools", "corpus_search", "--json"]  # fmt: skip


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(task=st.text(max_size=300))
def test_any_task_text_ends_in_an_answer_or_a_clean_error(fuzz_home, task: str) -> None:
    home, values = fuzz_home
    code, output = cf.run_in_process([*_fuzz_args(values), task], home)
    assert code in (0, 2), output[-500:]
    assert cf.judge_cli(code, output, code) == []


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_any_task_file_bytes_end_in_an_answer_or_a_clean_error(fuzz_home, data: bytes) -> None:
    home, values = fuzz_home
    path = home / "task.txt"
    path.write_bytes(data)
    code, output = cf.run_in_process([*_fuzz_args(values), "--task-file", str(path)], home)
    assert code in (0, 2), output[-500:]
    assert cf.judge_cli(code, output, code) == []


def test_the_judge_flags_a_traceback_and_a_wrong_code() -> None:
    assert cf.judge_cli(1, "Traceback (most recent call last):\n  boom", 2)
    assert cf.judge_cli(2, "ponder: error [config]: a\nponder: error [config]: b", 2)
    assert cf.judge_cli(2, "ponder: error [usage]: the task is empty", 2, "the task is empty") == []
