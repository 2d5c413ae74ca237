"""``--search`` and its companions turned into a run's search kind and web engines.

``--search`` names what ``web_search`` asks: ``web`` (ddgs), ``searxng``, a
chain ``ddgs,searxng`` (SearXNG when ddgs fails), ``local`` (a folder served
on loopback), or no web at all (``corpus``, ``none``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from agent.errors import ConfigError
from agent.settings import SearchEngine, WebSearchSettings

__all__ = ["SEARCH_CHOICES", "web_search_choice"]

SEARCH_CHOICES: dict[str, tuple[SearchEngine, ...]] = {
    "web": ("ddgs",),
    "searxng": ("searxng",),
    "ddgs,searxng": ("ddgs", "searxng"),
    "local": ("local",),
    "corpus": (),
    "none": (),
}


def web_search_choice(
    choice: str,
    *,
    searxng_url: str | None,
    local_web: Path | None,
    local_web_port: int = 0,
) -> tuple[Literal["web", "corpus", "none"], WebSearchSettings]:
    """(the run's search kind, its web engines); `ConfigError` for a missing companion."""
    engines = SEARCH_CHOICES[choice]
    if "searxng" in engines and not searxng_url:
        raise ConfigError(
            f"--search {choice} needs --searxng-url URL", hint="e.g. http://localhost:8888"
        )
    if "local" in engines:
        if local_web is None:
            raise ConfigError("--search local needs --local-web DIR (a folder of HTML pages)")
        if not local_web.is_dir():
            raise ConfigError(f"--local-web {local_web} does not exist or is not a folder")
    if not engines:
        kind: Literal["corpus", "none"] = "corpus" if choice == "corpus" else "none"
        return kind, WebSearchSettings()
    return "web", WebSearchSettings(
        engines=engines,
        searxng_url=searxng_url if "searxng" in engines else None,
        local_web=str(local_web.resolve())
        if local_web is not None and "local" in engines
        else None,
        local_web_port=local_web_port,
    )
