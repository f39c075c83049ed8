"""The per-text embedding disk cache, exercised with the hashing fake (it counts its calls)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from voicebot.embedding import EmbeddingKind, FloatMatrix, HashingEmbedder, encode_cached

TEXTS = ["как узнать баланс", "пропал интернет", "сменить тариф"]


class RecordingEmbedder(HashingEmbedder):
    """The hashing fake that also records which texts it was asked to encode."""

    def __init__(self) -> None:
        """No texts seen yet."""
        super().__init__()
        self.seen: list[list[str]] = []

    def encode(self, texts: Sequence[str], kind: EmbeddingKind) -> FloatMatrix:
        """Record, then encode."""
        self.seen.append(list(texts))
        return super().encode(texts, kind)


def cache_files(cache: Path) -> list[str]:
    """Names of the files in the cache directory."""
    return sorted(p.name for p in cache.iterdir())


def test_hashing_embedder_gives_deterministic_unit_vectors() -> None:
    embedder = HashingEmbedder(dimensions=64)

    first = embedder.encode(TEXTS, "query")
    again = HashingEmbedder(dimensions=64).encode(TEXTS, "query")

    assert first.shape == (3, 64)
    assert first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)
    assert np.array_equal(first, again)
    assert embedder.model_id == "hashing-trigrams-64"
    assert embedder.calls == 1


def test_first_call_encodes_and_writes_the_cache(tmp_path: Path) -> None:
    embedder = HashingEmbedder()

    vectors = encode_cached(embedder, TEXTS, "query", tmp_path)

    assert embedder.calls == 1
    assert np.array_equal(vectors, HashingEmbedder().encode(TEXTS, "query"))
    assert len(cache_files(tmp_path)) == 1
    assert cache_files(tmp_path)[0].startswith("embeddings-")
    assert cache_files(tmp_path)[0].endswith("-query.npz")


def test_second_call_encodes_nothing_new(tmp_path: Path) -> None:
    encode_cached(HashingEmbedder(), TEXTS, "query", tmp_path)
    embedder = HashingEmbedder()

    vectors = encode_cached(embedder, TEXTS, "query", tmp_path)
    reordered = encode_cached(embedder, list(reversed(TEXTS)), "query", tmp_path)

    assert embedder.calls == 0
    assert np.array_equal(vectors, HashingEmbedder().encode(TEXTS, "query"))
    assert np.array_equal(reordered, vectors[::-1])


def test_only_new_texts_are_encoded(tmp_path: Path) -> None:
    encode_cached(HashingEmbedder(), TEXTS[:2], "query", tmp_path)
    embedder = RecordingEmbedder()

    vectors = encode_cached(embedder, [*TEXTS, TEXTS[2]], "query", tmp_path)

    assert embedder.seen == [["сменить тариф"]]  # once, though asked for twice
    assert vectors.shape == (4, 256)
    assert np.array_equal(vectors[2], vectors[3])
    assert np.array_equal(vectors, HashingEmbedder().encode([*TEXTS, TEXTS[2]], "query"))
    assert encode_cached(RecordingEmbedder(), TEXTS, "query", tmp_path).shape == (3, 256)


def test_kinds_and_models_are_cached_apart(tmp_path: Path) -> None:
    encode_cached(HashingEmbedder(), TEXTS, "query", tmp_path)
    passage = HashingEmbedder()
    other_model = HashingEmbedder(dimensions=32)

    encode_cached(passage, TEXTS, "passage", tmp_path)
    small = encode_cached(other_model, TEXTS, "query", tmp_path)

    assert (passage.calls, other_model.calls) == (1, 1)
    assert small.shape == (3, 32)
    assert len(cache_files(tmp_path)) == 3


def test_without_a_cache_dir_every_call_encodes(tmp_path: Path) -> None:
    embedder = HashingEmbedder()

    encode_cached(embedder, TEXTS, "query", None)
    encode_cached(embedder, TEXTS, "query", None)

    assert embedder.calls == 2


def test_cache_dir_is_created(tmp_path: Path) -> None:
    cache = tmp_path / "deep" / "cache"

    encode_cached(HashingEmbedder(), TEXTS, "query", cache)

    assert len(cache_files(cache)) == 1


def test_damaged_cache_file_is_rebuilt(tmp_path: Path) -> None:
    encode_cached(HashingEmbedder(), TEXTS, "query", tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not an npz file at all")
    embedder = HashingEmbedder()

    vectors = encode_cached(embedder, TEXTS, "query", tmp_path)
    again = HashingEmbedder()
    encode_cached(again, TEXTS, "query", tmp_path)

    assert embedder.calls == 1
    assert np.array_equal(vectors, HashingEmbedder().encode(TEXTS, "query"))
    assert again.calls == 0  # the rebuilt file is good


def test_cache_file_with_wrong_arrays_is_rebuilt(tmp_path: Path) -> None:
    encode_cached(HashingEmbedder(), TEXTS, "query", tmp_path)
    (path,) = tmp_path.iterdir()
    with path.open("wb") as handle:
        np.savez(handle, something_else=np.zeros(3))
    embedder = HashingEmbedder()

    encode_cached(embedder, TEXTS, "query", tmp_path)

    assert embedder.calls == 1


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_truncated_or_empty_cache_file_is_rebuilt(tmp_path: Path, damage: str) -> None:
    encode_cached(HashingEmbedder(), TEXTS, "query", tmp_path)
    (path,) = tmp_path.iterdir()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    embedder = HashingEmbedder()

    encode_cached(embedder, TEXTS, "query", tmp_path)

    assert embedder.calls == 1
