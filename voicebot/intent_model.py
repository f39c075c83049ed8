"""A linear intent classifier over sentence embeddings, trained on the knowledge base's paraphrases.

Softmax regression in numpy; one extra class ("background") is trained from generic
out-of-scope utterances so that questions to nobody take probability away from the entries.
Trained weights are cached on disk keyed by the training data.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from voicebot.lexical import SparseRows

FloatMatrix = NDArray[np.float32]
IntArray = NDArray[np.int64]
# Inputs: dense sentence embeddings, or sparse character n-gram tf-idf rows.
Inputs = FloatMatrix | SparseRows


ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999


@dataclass(frozen=True)
class TrainingSettings:
    """Softmax regression hyper-parameters (cosine inputs, so a high temperature)."""

    temperature: float = 20.0
    epochs: int = 300
    learning_rate: float = 0.003
    # Large knowledge bases get fewer epochs: at most this many multiply-adds in all.
    budget_multiply_adds: float = 4e11


@dataclass(frozen=True)
class IntentModel:
    """Weights of the classifier; the last class is the background when `has_background`."""

    weights: FloatMatrix
    bias: FloatMatrix
    temperature: float
    has_background: bool

    def probabilities(self, vectors: Inputs) -> FloatMatrix:
        """Class probabilities for each row of `vectors` (background column included)."""
        logits = (_times(vectors, self.weights) + self.bias) * self.temperature
        return _softmax(logits)


def _times(inputs: Inputs, weights: FloatMatrix) -> FloatMatrix:
    if isinstance(inputs, SparseRows):
        return inputs.dot(weights)
    product: FloatMatrix = inputs @ weights
    return product


def _softmax(logits: FloatMatrix) -> FloatMatrix:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    probabilities: FloatMatrix = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities


def train_intent_model(
    vectors: Inputs,
    labels: IntArray,
    class_count: int,
    sample_weights: FloatMatrix,
    *,
    has_background: bool,
    settings: TrainingSettings | None = None,
) -> IntentModel:
    """Fit softmax regression with full-batch Adam (deterministic: centroid start)."""
    s = settings or TrainingSettings()
    # Start from the class centroids (a nearest-centroid classifier): few epochs already do well.
    targets = np.zeros((len(labels), class_count), dtype=np.float32)
    targets[np.arange(len(labels)), labels] = 1.0
    if isinstance(vectors, SparseRows):
        transposed, size = vectors.transposed(), len(vectors.indices)
    else:
        transposed, size = None, vectors.size

    def backward(gradient: FloatMatrix) -> FloatMatrix:
        if transposed is not None:
            return transposed.dot(gradient)
        assert not isinstance(vectors, SparseRows)
        result: FloatMatrix = vectors.T @ gradient
        return result

    weights = backward(targets)
    norms = np.linalg.norm(weights, axis=0, keepdims=True)
    weights = (weights / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    bias = np.zeros(class_count, dtype=np.float32)
    sample = (sample_weights / sample_weights.sum()).astype(np.float32)[:, None]
    per_epoch = 2.0 * size * class_count
    epochs = max(10, min(s.epochs, int(s.budget_multiply_adds / per_epoch)))
    # Adam: bounded per-parameter steps stay stable at any temperature, where plain gradient
    # descent would need a step below 2/temperature² and hundreds of times more epochs.
    moments = [np.zeros_like(weights), np.zeros_like(bias)]
    squares = [np.zeros_like(weights), np.zeros_like(bias)]
    for epoch in range(1, epochs + 1):
        probs = _softmax((_times(vectors, weights) + bias) * s.temperature)
        gradient = (probs - targets) * sample
        gradients = [s.temperature * backward(gradient), s.temperature * gradient.sum(axis=0)]
        for params, grad, moment, square in zip(
            (weights, bias), gradients, moments, squares, strict=True
        ):
            moment *= ADAM_BETA1
            moment += (1 - ADAM_BETA1) * grad
            square *= ADAM_BETA2
            square += (1 - ADAM_BETA2) * grad * grad
            corrected = moment / (1 - ADAM_BETA1**epoch)
            scale = np.sqrt(square / (1 - ADAM_BETA2**epoch)) + 1e-8
            params -= (s.learning_rate * corrected / scale).astype(np.float32)
    return IntentModel(weights, bias, s.temperature, has_background)


def training_key(
    vectors: Inputs, labels: IntArray, sample_weights: FloatMatrix, settings: TrainingSettings
) -> str:
    """A digest of everything the trained weights depend on."""
    digest = hashlib.sha256()
    arrays = (
        (vectors.indptr, vectors.indices, vectors.values)
        if isinstance(vectors, SparseRows)
        else (vectors,)
    )
    if isinstance(vectors, SparseRows):
        digest.update(b"sparse")
    for array in (*arrays, labels, sample_weights):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:24]


def train_cached(
    vectors: Inputs,
    labels: IntArray,
    class_count: int,
    sample_weights: FloatMatrix,
    *,
    has_background: bool,
    cache_dir: Path | None,
    settings: TrainingSettings | None = None,
) -> IntentModel:
    """Train, or load the weights trained before on exactly the same data."""
    s = settings or TrainingSettings()
    path = None
    if cache_dir is not None:
        path = cache_dir / f"intent-{training_key(vectors, labels, sample_weights, s)}.npz"
        if path.exists():
            try:
                with np.load(path) as data:
                    return IntentModel(data["weights"], data["bias"], s.temperature, has_background)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                pass  # a damaged cache file is retrained and overwritten
    model = train_intent_model(
        vectors, labels, class_count, sample_weights, has_background=has_background, settings=s
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, weights=model.weights, bias=model.bias)
        temporary.replace(path)
    return model
