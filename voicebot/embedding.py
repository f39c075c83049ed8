"""Sentence embeddings: the Embedder protocol and a per-text disk cache for knowledge-base texts."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

EmbeddingKind = Literal["query", "passage"]
FloatMatrix = NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    @property
    def model_id(self) -> str:
        """Identifies the model's weights; part of every cache key."""
        ...

    def encode(self, texts: Sequence[str], kind: EmbeddingKind) -> FloatMatrix:
        """Rows of unit vectors; `kind` picks the model's query or passage prompt."""
        ...


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def encode_cached(
    embedder: Embedder, texts: Sequence[str], kind: EmbeddingKind, cache_dir: Path | None
) -> FloatMatrix:
    """Encode `texts`, reusing vectors cached on disk by (model, kind, text); only new texts are encoded."""
    if cache_dir is None or not texts:
        return embedder.encode(texts, kind)
    model_key = hashlib.sha256(embedder.model_id.encode("utf-8")).hexdigest()[:16]
    path = cache_dir / f"embeddings-{model_key}-{kind}.npz"
    cached: dict[str, FloatMatrix] = {}
    if path.exists():
        try:
            with np.load(path) as data:
                cached = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            cached = {}  # a damaged cache is rebuilt, never trusted
    keys = [_text_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    if missing:
        vectors = embedder.encode([t for _, t in missing], kind)
        cached.update({k: v for (k, _), v in zip(missing, vectors, strict=True)})
        _save_atomically(path, cached)
    return np.stack([cached[k] for k in keys]).astype(np.float32)


def _save_atomically(path: Path, vectors: dict[str, FloatMatrix]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(vectors)
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, keys=np.array(keys), vectors=np.stack([vectors[k] for k in keys]))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class HashingEmbedder:
    """A deterministic stand-in embedder (character trigrams hashed into a vector), for unit tests."""

    def __init__(self, dimensions: int = 256) -> None:
        """Vectors of `dimensions` floats."""
        self._dimensions = dimensions
        self.calls = 0

    @property
    def model_id(self) -> str:
        """A fixed id: the hashing scheme never changes."""
        return f"hashing-trigrams-{self._dimensions}"

    def encode(self, texts: Sequence[str], kind: EmbeddingKind) -> FloatMatrix:
        """Bag of hashed character trigrams, L2-normalised."""
        self.calls += 1
        matrix = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for start in range(len(padded) - 2):
                digest = hashlib.md5(padded[start : start + 3].encode("utf-8")).digest()
                matrix[row, int.from_bytes(digest[:4], "little") % self._dimensions] += 1.0
            norm = float(np.linalg.norm(matrix[row]))
            if norm:
                matrix[row] /= norm
        return matrix
