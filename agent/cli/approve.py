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


def _edit(steps: list[dict[str, Any]], console: Console) -> list[dict[str, Any]] | None:
    """The plan's steps edited as JSON in $EDITOR (or read back from a file path)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(steps, f, indent=2)
        path = f.name
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if editor:
        subprocess.run([*shlex.split(editor), path], check=False)
    else:
        console.print(f"Edit the steps in [bold]{path}[/] in another window, then press Enter.")
        input()
    try:
        with open(path, encoding="utf-8") as f:
            edited = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        console.print(f"[red]Could not read the edited plan: {exc}[/]")
        return None
    finally:
        os.unlink(path)
    return edited if isinstance(edited, list) else None


def ask_on_terminal(request: dict[str, Any]) -> dict[str, Any]:
    console = Console(stderr=True)
    if request.get("kind") == "clarify":
        console.print(f"[bold]A question before planning:[/] {escape(request['question'])}")
        if request.get("why"):
            console.print(f"[dim]Why: {escape(request['why'])}[/]")
        return {"answer": Prompt.ask("Your answer (Enter to skip)", default="", console=console)}
    if request.get("kind") == "code_approval":
        console.print(f"[bold]Step {request['step_id']}[/] wants to run code ({request['goal']}):")
        code = str(request.get("input", {}).get("code", json.dumps(request.get("input"))))
        console.print(Syntax(code, "python", line_numbers=True))
        answer = Prompt.ask("Run it?", choices=["y", "n"], default="n", console=console)
        return {"decision": "approve" if answer == "y" else "reject"}
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
