"""Prebuilt Ponder graphs."""
