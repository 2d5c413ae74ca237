"""Ponder: reasoning-first research agents on LangGraph.

The public names are listed once, in ``__init__.pyi``; they load lazily so
``ponder --help`` stays fast.
"""

from importlib.metadata import version

import lazy_loader

__getattr__, __dir__, _names = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*_names, "__version__"]
__version__ = version("ponder")
