# The one table of this package's public names: type checkers read it, and
# lazy_loader.attach_stub turns it into the lazy __getattr__ and __all__ of __init__.py.

from .browser import BrowserTool as BrowserTool
from .code import PythonTool as PythonTool
from .code import SandboxOptions as SandboxOptions
from .corpus import CorpusOptions as CorpusOptions
from .corpus import corpus_tools as corpus_tools
from .fetch import FetchTool as FetchTool
from .mcp import McpConfig as McpConfig
from .mcp import McpServer as McpServer
from .mcp import McpTool as McpTool
from .mcp import McpTools as McpTools
from .mcp import aload_mcp_tools as aload_mcp_tools
from .mcp import load_mcp_tools as load_mcp_tools
from .netguard import NetworkPolicy as NetworkPolicy
from .search import WebSearch as WebSearch
from .search import WebSearchTool as WebSearchTool
from .toolbox import ToolboxOptions as ToolboxOptions
from .toolbox import build_toolbox as build_toolbox
