# The one table of this package's public names: type checkers read it, and
# lazy_loader.attach_stub turns it into the lazy __getattr__ and __all__ of __init__.py.

from .plan_execute import build_plan_execute_graph as build_plan_execute_graph
from .research import build_research_graph as build_research_graph
from .sampled import build_sampled_graph as build_sampled_graph
