"""Tools that act in the world, as LangChain tools returning typed observations.

Loaded lazily: importing one tool does not start a browser or import the others.
The public names are listed once, in ``__init__.pyi``.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
