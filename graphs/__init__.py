"""Prebuilt Ponder graphs, ready to run, embed or serve (names in ``__init__.pyi``)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
