"""Ponder: reasoning-first research agents on LangGraph."""
