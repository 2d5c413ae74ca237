"""Bad input to ``ponder``, as a table: each must end with a clear error and exit code 2.

Most cases run in-process through Typer's ``CliRunner`` on `agent.cli.app:app`
(fast); `SUBPROCESS_CASES` run the real console script, for what only a real
process has (argv bytes that are not UTF-8, no terminal on stdin). Inputs
that are odd but acceptable (a NUL inside the task, ANSI escapes, emoji) must
run to an answer. `run_cli_fuzz_suite()` runs the table for the report.

An error is *clean* when the exit code is 2, no traceback or "internal error"
is printed, and the message is either Ponder's one line (``ponder: error [CODE]: …``)
or Click's usage error for a flag it could not parse.
"""

from __future__ import annotations

import json
import resource
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli.app import app
from bench.cli_runner import CORPUS, PONDER, REPO, env, write_script

__all__ = [
    "BAD_INPUTS",
    "GOOD_INPUTS",
    "SUBPROCESS_CASES",
    "CliCase",
    "judge_cli",
    "prepare_home",
    "run_cli_case",
    "run_cli_fuzz_suite",
    "run_in_process",
]

DIRECT = {
    "mode": "direct",
    "depth": "low",
    "triage_reason": "simple",
    "reasoning": "It can be answered directly.",
    "answer": "A direct answer.",
    "steps": [],
}


@dataclass(frozen=True)
class CliCase:
    """``args`` may name ``{home}``, ``{script}``, ``{corpus}``; ``files`` are made in home."""

    name: str
    args: tuple[str, ...]
    phrase: str = ""  # text the error must hold
    files: dict[str, bytes] = field(default_factory=dict)
    code: int = 2


RUN = ("run", "--model", "script:{script}", "--corpus", "{corpus}", "--tools", "corpus_search")


def _c(name: str, *args: str, phrase: str = "", code: int = 2, **files: bytes) -> CliCase:
    return CliCase(name, args, phrase, {k.replace("__", "."): v for k, v in files.items()}, code)


BAD_INPUTS: tuple[CliCase, ...] = (
    _c("empty_task", *RUN, "", phrase="the task is empty"),
    _c("whitespace_task", *RUN, " \t\n ", phrase="the task is empty"),
    _c("control_chars_only", *RUN, "\x01\x02\x1b\x7f\x08", phrase="the task is empty"),
    _c("task_1mb", *RUN, "q" * 1_000_000, phrase="the limit is 20000"),
    _c("task_20001_chars", *RUN, "q" * 20_001, phrase="the limit is 20000"),
    _c("no_task_at_all", *RUN, phrase="the task is empty"),
    _c("task_file_not_utf8", *RUN, "--task-file", "{home}/bad.txt", phrase="not UTF-8",
       bad__txt=b"what is \xff\xfe\xfa?"),
    _c("task_file_utf16", *RUN, "--task-file", "{home}/u16.txt", phrase="not UTF-8",
       u16__txt="what is asyncio?".encode("utf-16")),
    _c("task_file_missing", *RUN, "--task-file", "{home}/nope.txt", phrase="cannot read"),
    _c("task_file_is_a_dir", *RUN, "--task-file", "{home}", phrase="cannot read"),
    _c("task_file_empty", *RUN, "--task-file", "{home}/empty.txt", phrase="the task is empty",
       empty__txt=b""),
    _c("task_file_3mb", *RUN, "--task-file", "{home}/big.txt", phrase="limit",
       big__txt=b"why? " * 600_000),
    _c("unknown_flag", *RUN, "q", "--bogus"),
    _c("unknown_command", "frobnicate"),
    _c("max_steps_negative", *RUN, "q", "--max-steps", "-1"),
    _c("max_steps_zero", *RUN, "q", "--max-steps", "0"),
    _c("max_steps_float", *RUN, "q", "--max-steps", "1e9"),
    _c("max_steps_huge", *RUN, "q", "--max-steps", "99999999999999999999"),
    _c("timeout_negative", *RUN, "q", "--timeout", "-5"),
    _c("timeout_zero", *RUN, "q", "--timeout", "0"),
    _c("timeout_nan", *RUN, "q", "--timeout", "nan"),
    _c("step_timeout_nan", *RUN, "q", "--step-timeout", "nan"),
    _c("max_tokens_negative", *RUN, "q", "--max-tokens", "-1"),
    _c("max_replans_negative", *RUN, "q", "--max-replans", "-3"),
    _c("effort_unknown", *RUN, "q", "--effort", "extreme"),
    _c("search_unknown", *RUN, "q", "--search", "everything"),
    _c("model_nonsense", "run", "q", "--model", "nonsense", phrase="unknown model spec"),
    _c("model_empty", "run", "q", "--model", "", phrase="unknown model spec"),
    _c("model_provider_without_name", "run", "q", "--model", "openai:", phrase="unknown model"),
    _c("model_script_missing", "run", "q", "--model", "script:{home}/nope.json",
       phrase="cannot load the scripted model"),
    _c("model_script_not_json", "run", "q", "--model", "script:{home}/bad.json",
       phrase="cannot load the scripted model", bad__json=b"{not json"),
    _c("model_script_wrong_shape", "run", "q", "--model", "script:{home}/list.json",
       phrase="cannot load the scripted model", list__json=b"[1, 2, 3]"),
    _c("model_gguf_missing", "run", "q", "--model", "llamacpp:{home}/none.gguf",
       phrase="no GGUF model file"),
    _c("model_openai_without_key", "run", "q", "--model", "openai:gpt-4o-mini",
       phrase="needs an API key"),
    _c("model_anthropic_without_key", "run", "q", "--model", "anthropic:claude",
       phrase="needs an API key"),
    _c("corpus_missing", *RUN[:4], "{home}/no-corpus", "q", phrase="does not exist"),
    _c("corpus_is_a_file", *RUN[:4], "{home}/file.txt", "q", phrase="not a folder",
       file__txt=b"x"),
    _c("search_corpus_without_corpus", "run", "q", "--model", "script:{script}", "--search",
       "corpus", phrase="needs --corpus"),
    _c("tools_unknown", *RUN[:6], "nuke_everything", "q", phrase="unknown tool"),
    _c("run_id_path", *RUN, "q", "--run-id", "../../etc/passwd", phrase="--run-id"),
    _c("run_id_empty", *RUN, "q", "--run-id", "", phrase="--run-id"),
    _c("run_id_spaces", *RUN, "q", "--run-id", "a b", phrase="--run-id"),
    _c("approve_plan_without_terminal", *RUN, "q", "--approve-plan", phrase="terminal"),
    _c("approve_code_without_terminal", *RUN, "q", "--approve-code", phrase="terminal"),
    _c("store_is_a_dir", *RUN, "q", "--store", "{home}", phrase="cannot open the run store"),
    _c("store_unwritable", *RUN, "q", "--store", "/proc/ponder/runs.sqlite",
       phrase="cannot open the run store"),
    _c("resume_unknown_run", "resume", "no-such-run", "--store", "{home}/runs.sqlite",
       phrase="no run"),
    _c("show_unknown_run", "show", "no-such-run", "--store", "{home}/runs.sqlite",
       phrase="no run"),
    _c("batch_file_missing", "batch", "{home}/none.txt", "--model", "script:{script}",
       phrase="cannot read tasks"),
    _c("batch_file_only_comments", "batch", "{home}/c.txt", "--model", "script:{script}",
       phrase="holds no tasks", c__txt=b"# nothing\n\n# here\n"),
    _c("batch_resume_unknown", "batch", "--resume", "nope", "--store", "{home}/runs.sqlite",
       phrase="no batch"),
    _c("batch_without_tasks", "batch", "--store", "{home}/runs.sqlite", phrase="FILE of tasks"),
    _c("batch_ray_on_sqlite", "batch", "{home}/c.txt", "--ray", "auto", "--model",
       "script:{script}", "--store", "{home}/runs.sqlite", phrase="--ray needs a store",
       c__txt=b"a task\n"),
    _c("store_postgres_unreachable", *RUN, "q", "--store", "postgresql://nobody@127.0.0.1:1/x",
       phrase="cannot open the Postgres run store"),
)  # fmt: skip

GOOD_INPUTS: tuple[CliCase, ...] = (
    _c("nul_inside_task", *RUN, "what\x00 is asyncio?", "--json", code=0),
    _c("ansi_escapes", *RUN, "\x1b[31mwhat\x1b[0m is asyncio?", "--json", code=0),
    _c("bidi_and_emoji", *RUN, "what is \u202easyncio\u202c 🐍?", "--json", code=0),
    _c("task_file_with_bom", *RUN, "--task-file", "{home}/bom.txt", "--json", code=0,
       bom__txt="\ufeffwhat is asyncio?".encode()),
    _c("task_of_20000_chars", *RUN, "q" * 20_000, "--json", code=0),
    _c("unicode_run_id", *RUN, "what is asyncio?", "--run-id", "lauf_ü_1", "--json", code=0),
)  # fmt: skip


def prepare_home(home: Path) -> dict[str, str]:
    """The scripted model (direct answers) and the placeholders for `CliCase.args`."""
    script = write_script(
        home / "model.json", {"Planning": [DIRECT], "text": ["Hello."]}, repeat_last=True
    )
    return {"{home}": str(home), "{script}": str(script), "{corpus}": str(CORPUS)}


def _fill(case: CliCase, values: dict[str, str], home: Path) -> list[str]:
    for name, data in case.files.items():
        (home / name).write_bytes(data)
    args = []
    for arg in case.args:
        for key, value in values.items():
            arg = arg.replace(key, value)
        args.append(arg)
    return args


def judge_cli(code: int, output: str, expect: int, phrase: str = "") -> list[str]:
    """Problems with one CLI outcome (empty when it is clean)."""
    problems = []
    if code != expect:
        problems.append(f"exit code {code}, expected {expect}: {output[-300:]!r}")
    for bad in ("Traceback", "internal error"):
        if bad in output:
            problems.append(f"{bad!r} in the output: {output[-300:]!r}")
    if expect == 2:
        ours = [ln for ln in output.splitlines() if ln.startswith("ponder: error [")]
        usage = "Usage:" in output and "Error" in output
        if len(ours) > 1 or not (ours or usage):
            problems.append(f"no single clear error line: {output[-300:]!r}")
        flat = " ".join(output.replace("│", " ").split())
        if phrase and phrase not in flat:
            problems.append(f"the error lacks {phrase!r}: {output[-300:]!r}")
    if expect == 0:
        report = json.loads(output[output.index("{") :])
        if report["status"] != "done" or not report["answer"]:
            problems.append(f"status {report['status']}, answer {report['answer']!r}")
    return problems


def run_in_process(args: list[str], home: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env={**env(home), "COLUMNS": "80"})
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTraceback: {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


def run_cli_case(case: CliCase, home: Path) -> list[str]:
    values = prepare_home(home)
    code, output = run_in_process(_fill(case, values, home), home)
    return judge_cli(code, output, case.code, case.phrase)


# Real processes: what CliRunner cannot show (argv bytes, a missing terminal, stderr alone).
SUBPROCESS_CASES: tuple[tuple[str, list[bytes], int, str], ...] = (
    ("argv_not_utf8", [b"run", b"what is \xff\xfe asyncio?", b"--json"], 0, ""),
    ("argv_only_invalid_bytes", [b"run", b"\xff\xfe\xfd"], 2, "the task is empty"),
    ("approve_plan_piped_stdin", [b"run", b"q", b"--approve-plan"], 2, "terminal"),
    ("unknown_flag", [b"run", b"q", b"--no-such-flag"], 2, ""),
    # Endless files run only here, under a memory limit: a regression must not eat the host.
    ("task_file_endless", [b"run", b"--task-file", b"/dev/zero"], 2, "limit"),
    ("batch_file_endless", [b"batch", b"/dev/zero"], 2, "limit"),
)
_MEMORY_LIMIT = 2 * 1024**3


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))


def run_subprocess_case(args: list[bytes], home: Path) -> tuple[int, str]:
    values = prepare_home(home)
    model = [b"--model", f"script:{values['{script}']}".encode()]
    if args[0] == b"run":
        model += [b"--corpus", str(CORPUS).encode(), b"--tools", b"corpus_search"]
    done = subprocess.run(
        [str(PONDER).encode(), *args[:1], *model, *args[1:]],
        capture_output=True, env=env(home), cwd=REPO, timeout=120, stdin=subprocess.PIPE,
        check=False, preexec_fn=_limit_memory,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", errors="replace")


def run_cli_fuzz_suite() -> dict[str, Any]:
    """The whole table, in process and as real processes: ``{"tried", "clean", "failures"}``."""
    failures: dict[str, list[str]] = {}
    tried = 0
    with tempfile.TemporaryDirectory(prefix="ponder-fuzz-") as tmp:
        for case in (*BAD_INPUTS, *GOOD_INPUTS):
            home = Path(tmp) / case.name
            home.mkdir()
            tried += 1
            if problems := run_cli_case(case, home):
                failures[case.name] = problems
        for name, args, code, phrase in SUBPROCESS_CASES:
            home = Path(tmp) / f"proc-{name}"
            home.mkdir()
            tried += 1
            got, output = run_subprocess_case(args, home)
            if problems := judge_cli(got, output, code, phrase):
                failures[f"process {name}"] = problems
    return {"tried": tried, "clean": tried - len(failures), "failures": failures}
