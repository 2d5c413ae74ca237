"""Prebuilt Ponder graphs, ready to run, embed or serve."""

from graphs.plan_execute import build_plan_execute_graph
from graphs.research import build_research_graph
from graphs.sampled import build_sampled_graph

__all__ = ["build_plan_execute_graph", "build_research_graph", "build_sampled_graph"]
