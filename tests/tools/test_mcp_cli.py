"""``--mcp`` through the real ``ponder`` CLI: ``ponder tools``, and a run whose secrets stay put.

The canary run plants a token in a stdio server's ``env`` and another in an
HTTP server's ``Authorization`` header, plans a step on each server that
echoes what it was given, then reads every channel a secret could leak
through: stdout (the event stream), stderr, the Markdown
report and the run store's bytes (WAL included).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.cli_runner import events, ponder, write_script
from tests.conftest import planning, synthesis
from tests.tools.mcp_servers import HEADER, TOKEN, http_notes_server, stdio_server

pytestmark = pytest.mark.mcp


def _config(tmp_path: Path, servers: dict[str, object]) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


def test_ponder_tools_lists_what_the_planner_would_see(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        {"notes": stdio_server(sideEffects=["write_note"]), "dead": stdio_server("exit")},
    )
    done = ponder("tools", "--mcp", str(config), "--search", "none", home=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "- notes_search_notes(query): Search the team's notes about asyncio" in done.stdout
    assert "    query (text, required)" in done.stdout
    assert "- notes_write_note(title, text): Save a note for the team" in done.stdout
    assert "asking for approval under --approve-actions: " in done.stdout
    assert "notes_write_note" in done.stdout.split("asking for approval")[1]
    assert "note: MCP server dead is off: it did not start or speak MCP" in done.stderr
    assert "Traceback" not in done.stderr


def test_ponder_tools_with_a_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = ponder("tools", "--mcp", str(tmp_path / "nope.json"), home=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("ponder: error [config]: cannot read the MCP config")
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {"s": {}}}')
    script = write_script(tmp_path / "script.json", {})
    done = ponder("run", "q", "--mcp", str(bad), "--model", f"script:{script}", home=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "needs either a command (stdio) or a url" in done.stderr


def test_secrets_in_env_and_headers_never_leave_the_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with http_notes_server(tmp_path) as url:
        config = _config(
            tmp_path,
            {
                "local": stdio_server(),
                "remote": {"url": url, "headers": {"Authorization": f"Bearer {HEADER}"}},
            },
        )
        plan = planning(
            {"id": "s1", "goal": "who am I locally", "tool": "local_whoami", "input": {},
             "depends_on": []},
            {"id": "s2", "goal": "who am I remotely", "tool": "remote_whoami", "input": {},
             "depends_on": []},
        )  # fmt: skip
        script = write_script(
            tmp_path / "script.json",
            {"Planning": [plan], "Synthesis": [synthesis("s1.1", text="The token is redacted.")]},
        )
        report_md = tmp_path / "report.md"
        done = ponder(
            "run", "Which credentials do the servers see?", "--model", f"script:{script}",
            "--search", "none", "--mcp", str(config), "--allow-host", urlsplit(url).netloc,
            "--events", "jsonl", "-o", str(report_md), "--store",
            str(home / "runs.sqlite"), home=home, timeout=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    finished = [e for e in events(done.stdout) if e.get("type") == "step_finished"]
    summaries = {e["step_id"]: e["summary"] for e in finished}
    # Both servers were given their secret, and echoed it; Ponder scrubbed it.
    assert "token=[redacted]" in summaries["s1"], summaries
    assert "header=[redacted]" in summaries["s2"], summaries
    channels = {
        "stdout": done.stdout,
        "stderr": done.stderr,
        "report.md": report_md.read_text(encoding="utf-8"),
    }
    for path in home.rglob("*"):
        if path.is_file():
            channels[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    assert any("runs.sqlite" in name for name in channels)
    for name, text in channels.items():
        for secret in (TOKEN, HEADER):
            assert secret not in text, f"{secret} leaked into {name}"
