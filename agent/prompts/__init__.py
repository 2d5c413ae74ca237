"""Prompts live in YAML files beside this module and are rendered strictly.

Each file has a ``system`` and a ``user`` template (Jinja2 with
``StrictUndefined``, so a missing variable fails loudly instead of vanishing
from the prompt). Tool output is always passed in already fenced as
untrusted data; the templates say so to the model.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

__all__ = ["render_prompt"]

_ENV = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


@cache
def _templates(name: str) -> tuple[Template, Template]:
    text = files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    return _ENV.from_string(spec["system"]), _ENV.from_string(spec["user"])


def render_prompt(name: str, **values: Any) -> list[BaseMessage]:
    """The system and user messages of prompt ``name`` filled with ``values``."""
    system, user = _templates(name)
    return [
        SystemMessage(content=system.render(**values).strip()),
        HumanMessage(content=user.render(**values).strip()),
    ]
