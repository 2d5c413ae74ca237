"""Ponder: reasoning-first research agents on LangGraph.

The public names are listed once, in ``__init__.pyi``; they load lazily so
``ponder --help`` stays fast.
"""

from typing import Any

import lazy_loader

_lazy_getattr, __dir__, _names = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*_names, "__version__"]


def __getattr__(name: str) -> Any:
    # importlib.metadata costs ~60 ms of start-up: read the version only when asked.
    if name == "__version__":
        from importlib.metadata import version

        return version("ponder")
    return _lazy_getattr(name)
