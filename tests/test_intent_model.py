"""The softmax intent classifier: learning a separable toy problem, and its weight cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import voicebot.intent_model as intent_model
from voicebot.intent_model import (
    IntentModel,
    TrainingSettings,
    train_cached,
    train_intent_model,
    training_key,
)

# Three classes on three axes of a 4-d space, two noisy unit vectors each.
RAW = np.array(
    [
        [1.0, 0.1, 0.0, 0.1],
        [0.9, 0.0, 0.2, 0.0],
        [0.1, 1.0, 0.0, 0.1],
        [0.0, 0.9, 0.1, 0.2],
        [0.0, 0.1, 1.0, 0.1],
        [0.2, 0.0, 0.9, 0.1],
    ],
    dtype=np.float32,
)
VECTORS = (RAW / np.linalg.norm(RAW, axis=1, keepdims=True)).astype(np.float32)
LABELS = np.array([0, 0, 1, 1, 2, 2], dtype=np.int64)
WEIGHTS = np.ones(6, dtype=np.float32)
FAST = TrainingSettings(epochs=100)


def unit(*values: float) -> np.ndarray:
    """A row of one unit vector."""
    row = np.array([values], dtype=np.float32)
    return (row / np.linalg.norm(row)).astype(np.float32)


def test_learns_a_separable_problem() -> None:
    model = train_intent_model(VECTORS, LABELS, 3, WEIGHTS, has_background=False)

    train_probs = model.probabilities(VECTORS)
    unseen = np.vstack(
        [unit(0.8, 0.2, 0.1, 0.0), unit(0.1, 0.7, 0.0, 0.3), unit(0.0, 0.2, 0.9, 0.2)]
    )

    assert train_probs.shape == (6, 3)
    assert train_probs.dtype == np.float32
    assert np.allclose(train_probs.sum(axis=1), 1.0, atol=1e-5)
    assert train_probs.argmax(axis=1).tolist() == LABELS.tolist()
    assert float(train_probs[np.arange(6), LABELS].min()) > 0.8
    assert model.probabilities(unseen).argmax(axis=1).tolist() == [0, 1, 2]
    assert not model.has_background
    assert model.temperature == TrainingSettings().temperature


def test_training_is_deterministic() -> None:
    first = train_intent_model(VECTORS, LABELS, 3, WEIGHTS, has_background=False, settings=FAST)
    second = train_intent_model(VECTORS, LABELS, 3, WEIGHTS, has_background=False, settings=FAST)

    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.bias, second.bias)


CONTESTED = unit(1.0, 1.0, 0.0, 0.0)


def train_contested(weights: tuple[float, float], settings: TrainingSettings) -> IntentModel:
    """One point labelled 0 and 1 with the given sample weights."""
    return train_intent_model(
        np.vstack([CONTESTED, CONTESTED]),
        np.array([0, 1], dtype=np.int64),
        2,
        np.array(weights, dtype=np.float32),
        has_background=False,
        settings=settings,
    )


def test_sample_weights_decide_a_contested_point() -> None:
    # A step size small enough to converge: the weighted likelihood optimum is 3/4 vs 1/4.
    stable = TrainingSettings(learning_rate=0.005)

    to_first = train_contested((3.0, 1.0), stable).probabilities(CONTESTED)[0]
    to_second = train_contested((1.0, 3.0), stable).probabilities(CONTESTED)[0]

    assert to_first.tolist() == pytest.approx([0.75, 0.25], abs=0.01)
    assert to_second.tolist() == pytest.approx([0.25, 0.75], abs=0.01)


@pytest.mark.parametrize("epochs", [300, 301])
def test_default_training_converges_on_a_contested_point(epochs: int) -> None:
    model = train_contested((3.0, 1.0), TrainingSettings(epochs=epochs))

    assert model.probabilities(CONTESTED)[0].tolist() == pytest.approx([0.75, 0.25], abs=0.05)


def test_background_class_is_the_last_column() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2], dtype=np.int64)  # class 2 plays the background

    model = train_intent_model(VECTORS, labels, 3, WEIGHTS, has_background=True, settings=FAST)

    assert model.has_background
    assert model.probabilities(unit(0.0, 0.1, 1.0, 0.1)).argmax() == 2


def test_training_key_depends_on_data_and_settings() -> None:
    key = training_key(VECTORS, LABELS, WEIGHTS, FAST)

    assert key == training_key(VECTORS.copy(), LABELS.copy(), WEIGHTS.copy(), FAST)
    assert len(key) == 24
    assert key != training_key(VECTORS, LABELS[::-1].copy(), WEIGHTS, FAST)
    assert key != training_key(VECTORS, LABELS, WEIGHTS * 2, FAST)
    assert key != training_key(VECTORS, LABELS, WEIGHTS, TrainingSettings(epochs=101))


def test_cached_weights_are_reused_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=False, cache_dir=tmp_path, settings=FAST
    )
    files = sorted(p.name for p in tmp_path.iterdir())

    def no_training(*args: object, **kwargs: object) -> IntentModel:
        raise AssertionError("trained again instead of using the cache")

    monkeypatch.setattr(intent_model, "train_intent_model", no_training)
    again = train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=True, cache_dir=tmp_path, settings=FAST
    )

    assert files == [f"intent-{training_key(VECTORS, LABELS, WEIGHTS, FAST)}.npz"]
    assert np.array_equal(again.weights, first.weights)
    assert np.array_equal(again.bias, first.bias)
    assert again.has_background  # the flag is the caller's, not the file's
    assert again.temperature == FAST.temperature


def test_new_training_data_trains_a_new_model(tmp_path: Path) -> None:
    train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=False, cache_dir=tmp_path, settings=FAST
    )

    train_cached(
        VECTORS, LABELS, 3, WEIGHTS * 2, has_background=False, cache_dir=tmp_path, settings=FAST
    )

    assert len(list(tmp_path.iterdir())) == 2


def test_without_a_cache_dir_nothing_is_written(tmp_path: Path) -> None:
    model = train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=False, cache_dir=None, settings=FAST
    )

    assert model.probabilities(VECTORS).argmax(axis=1).tolist() == LABELS.tolist()
    assert list(tmp_path.iterdir()) == []


def test_damaged_weights_file_is_retrained_and_overwritten(tmp_path: Path) -> None:
    expected = train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=False, cache_dir=tmp_path, settings=FAST
    )
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"garbage")

    model = train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=False, cache_dir=tmp_path, settings=FAST
    )

    assert np.array_equal(model.weights, expected.weights)
    with np.load(path) as data:
        assert np.array_equal(data["weights"], expected.weights)


def test_truncated_weights_file_is_retrained(tmp_path: Path) -> None:
    train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=False, cache_dir=tmp_path, settings=FAST
    )
    (path,) = tmp_path.iterdir()
    path.write_bytes(path.read_bytes()[:100])

    model = train_cached(
        VECTORS, LABELS, 3, WEIGHTS, has_background=False, cache_dir=tmp_path, settings=FAST
    )

    assert model.probabilities(VECTORS).argmax(axis=1).tolist() == LABELS.tolist()


def test_learns_from_sparse_char_ngram_rows(tmp_path: Path) -> None:
    from voicebot.lexical import CharNgramVectorizer

    texts = ["какой баланс", "сколько денег на счету", "оплатить картой", "как заплатить"]
    labels = np.array([0, 0, 1, 1], dtype=np.int64)
    vectorizer = CharNgramVectorizer(texts)
    rows = vectorizer.transform(texts)
    model = train_cached(
        rows, labels, 2, np.ones(4, dtype=np.float32), has_background=False, cache_dir=tmp_path
    )
    probs = model.probabilities(vectorizer.transform(["баланс какой", "заплатить картой"]))
    assert probs[0].argmax() == 0 and probs[1].argmax() == 1
    # The second call loads the same weights from the cache.
    again = train_cached(
        rows, labels, 2, np.ones(4, dtype=np.float32), has_background=False, cache_dir=tmp_path
    )
    np.testing.assert_array_equal(again.weights, model.weights)
    assert len(list(tmp_path.glob("intent-*.npz"))) == 1
