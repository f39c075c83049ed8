"""The sentence-transformers embedder (multilingual E5): the only place that imports it."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voicebot.embedding import EmbeddingKind, FloatMatrix
from voicebot.errors import ModelMissingError


class SentenceTransformerEmbedder:
    """Encodes with a local sentence-transformers model directory on the CPU."""

    def __init__(self, model_dir: Path, *, device: str = "cpu") -> None:
        """Load the model from `model_dir` (never from a hub)."""
        if not (model_dir / "modules.json").exists():
            raise ModelMissingError(
                f"embedding model not found in {model_dir}; "
                "run `voicebot models download` (or add --mirror DIR)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        self._prompts = set(self._model.prompts)
        digest = hashlib.sha256()
        for name in ("config.json", "modules.json", "tokenizer.json"):
            path = model_dir / name
            if path.exists():
                digest.update(path.read_bytes())
        weights = sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))
        for path in weights:
            digest.update(f"{path.name}:{path.stat().st_size}".encode())
        self._model_id = f"{model_dir.name}:{digest.hexdigest()[:16]}"
        self.encode(
            ["прогрев"], "query"
        )  # the first call is slow: pay it at start-up, not on a call

    @property
    def model_id(self) -> str:
        """Directory name plus a digest of the configuration and weight sizes."""
        return self._model_id

    def encode(self, texts: Sequence[str], kind: EmbeddingKind) -> FloatMatrix:
        """Unit vectors; E5's `query: ` / `passage: ` prompts are applied when the model has them."""
        prompt_name = kind if kind in self._prompts else None
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
