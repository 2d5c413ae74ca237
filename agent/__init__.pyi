# The one table of this package's public names: type checkers read it, and
# lazy_loader.attach_stub turns it into the lazy __getattr__ and __all__ of __init__.py.

from .checkpointing import checkpoint_serde as checkpoint_serde
from .errors import (
    AgentRunError as AgentRunError,
)
from .errors import (
    ErrorCode as ErrorCode,
)
from .errors import (
    PonderError as PonderError,
)
from .errors import (
    UserError as UserError,
)
from .events import Event as Event
from .events import parse_event as parse_event
from .models.resolve import resolve_model as resolve_model
from .observation import Observation as Observation
from .observation import Passage as Passage
from .settings import Budgets as Budgets
from .settings import RunContext as RunContext
from .settings import Settings as Settings
from .state import Answer as Answer
from .state import Citation as Citation
from .state import Usage as Usage
from .store import RunStore as RunStore
from .store import default_store_path as default_store_path
from .toolset import Toolset as Toolset

__version__: str
