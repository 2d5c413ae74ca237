"""Asking a person on the terminal: a clarifying question, or approval of a plan or a code step."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt
from rich.syntax import Syntax
from rich.tree import Tree

__all__ = ["ask_on_terminal"]


def _edit_text(text: str, suffix: str, console: Console) -> str | None:
    """``text`` edited in $VISUAL/$EDITOR (or by hand in another window); None if unreadable."""
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8") as f:
        f.write(text)
        path = f.name
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if editor:
        subprocess.run([*shlex.split(editor), path], check=False)
    else:
        console.print(f"Edit [bold]{path}[/] in another window, then press Enter.")
        input()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        console.print(f"[red]Could not read the edited file: {exc}[/]")
        return None
    finally:
        os.unlink(path)


def _edit_json(value: Any, what: str, console: Console) -> Any:
    """``value`` edited as JSON; None if the edit cannot be read."""
    text = _edit_text(json.dumps(value, indent=2), ".json", console)
    try:
        return json.loads(text) if text is not None else None
    except json.JSONDecodeError as exc:
        console.print(f"[red]Could not read the edited {what}: {exc}[/]")
        return None


def _edit(steps: list[dict[str, Any]], console: Console) -> list[dict[str, Any]] | None:
    """The plan's steps edited as JSON."""
    edited = _edit_json(steps, "plan", console)
    return edited if isinstance(edited, list) else None


def _edit_input(tool_input: dict[str, Any], console: Console) -> dict[str, Any] | None:
    """A step's input edited: the code itself for a code step, else the input as JSON."""
    if isinstance(tool_input.get("code"), str):
        code = _edit_text(tool_input["code"], ".py", console)
        return None if code is None else {**tool_input, "code": code}
    edited = _edit_json(tool_input, "input", console)
    return edited if isinstance(edited, dict) else None


def _ask_code(request: dict[str, Any], console: Console) -> dict[str, Any]:
    """Run, refuse or edit one step that needs approval (code, or an MCP action)."""
    if request.get("error"):
        console.print(f"[red]{escape(request['error'])}[/]")
    tool_input = dict(request.get("input") or {})
    console.print(f"[bold]Step {request['step_id']}[/] wants to run code ({request['goal']}):")
    code = str(tool_input.get("code", json.dumps(tool_input, indent=2)))
    console.print(Syntax(code, "python", line_numbers=True))
    answer = Prompt.ask(
        escape("Run it? [y]es, [n]o or [e]dit"), choices=["y", "n", "e"], default="n",
        console=console,
    )  # fmt: skip
    if answer == "e":
        edited = _edit_input(tool_input, console)
        if edited is None:
            return _ask_code(request, console)
        return {"decision": "edit", "input": edited}
    return {"decision": "approve" if answer == "y" else "reject"}


def ask_on_terminal(request: dict[str, Any]) -> dict[str, Any]:
    console = Console(stderr=True)
    if request.get("kind") == "clarify":
        console.print(f"[bold]A question before planning:[/] {escape(request['question'])}")
        if request.get("why"):
            console.print(f"[dim]Why: {escape(request['why'])}[/]")
        return {"answer": Prompt.ask("Your answer (Enter to skip)", default="", console=console)}
    if request.get("kind") == "code_approval":
        return _ask_code(request, console)
    if request.get("error"):
        console.print(f"[red]{request['error']}[/]")
    tree = Tree(f"[bold]Plan v{request['version']}[/]")
    if request.get("reasoning"):
        tree.add(f"[italic dim]{request['reasoning']}[/]")
    for s in request["steps"]:
        after = f" ⟵ {', '.join(s['depends_on'])}" if s.get("depends_on") else ""
        tree.add(f"{s['id']} {s['tool']}{after}: {s['goal']}  [dim]{json.dumps(s['input'])}[/]")
    console.print(tree)
    choice = Prompt.ask(
        escape("Run this plan? [a]pprove, [e]dit or [r]eject"),
        choices=["a", "e", "r"],
        default="a",
        console=console,
    )
    if choice == "e":
        steps = _edit(request["steps"], console)
        if steps is not None:
            return {"decision": "edit", "steps": steps}
        return ask_on_terminal(request)
    if choice == "r":
        feedback = Prompt.ask("What should change?", console=console)
        return {"decision": "reject", "feedback": feedback}
    return {"decision": "approve"}
