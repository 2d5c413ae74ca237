# The one table of this package's public names: type checkers read it, and
# lazy_loader.attach_stub turns it into the lazy __getattr__ and __all__ of __init__.py.

from .demo import DEMO_SEED as DEMO_SEED
from .demo import demo_gguf_path as demo_gguf_path
from .demo import demo_model as demo_model
from .failures import (
    FailureKind as FailureKind,
)
from .failures import (
    ModelFailure as ModelFailure,
)
from .failures import (
    classify_model_error as classify_model_error,
)
from .llamacpp import ChatLlamaCpp as ChatLlamaCpp
from .llamacpp import StructuredMethod as StructuredMethod
from .openai_compat import ChatOpenAICompatible as ChatOpenAICompatible
from .resolve import (
    ResolvedModel as ResolvedModel,
)
from .resolve import (
    resolve_model as resolve_model,
)
from .resolve import (
    resolve_model_spec as resolve_model_spec,
)
from .resolve import (
    structured_method as structured_method,
)
