"""Ponder's benchmarks: ``python -m bench`` (see ``bench/__main__.py``)."""

__all__: list[str] = []
