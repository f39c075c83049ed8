"""Lexical scoring: idf-weighted lemma overlap with fuzzy typo resolution (pure, literals)."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.lexical import LexicalIndex

# Three entries: 0 = balance (two paraphrases), 1 = internet, 2 = tariff.
DOCUMENTS = [
    ["узнать", "баланс"],
    ["сколько", "денег", "счету"],
    ["интернет", "работает"],
    ["сменить", "тариф"],
]
OWNERS = [0, 0, 1, 2]


@pytest.fixture
def index() -> LexicalIndex:
    """An index over the literal documents above."""
    return LexicalIndex(DOCUMENTS, OWNERS, 3)


def test_exact_paraphrase_scores_one_and_others_zero(index: LexicalIndex) -> None:
    scores = index.scores(["интернет", "работает"])

    assert scores.dtype == np.float32
    assert scores.tolist() == pytest.approx([0.0, 1.0, 0.0])


def test_exact_match_scores_highest(index: LexicalIndex) -> None:
    exact = index.scores(["узнать", "баланс"])
    partial = index.scores(["баланс"])

    assert int(np.argmax(exact)) == 0
    assert exact[0] == pytest.approx(1.0)
    assert 0.0 < partial[0] < exact[0]


def test_words_of_two_paraphrases_of_one_entry_add_up_in_coverage(index: LexicalIndex) -> None:
    # Best paraphrase cosine is partial, but every word is covered by the entry.
    mixed = index.scores(["баланс", "счету"])
    one = index.scores(["баланс"])

    assert mixed[0] > 0.4
    assert mixed[1] == 0.0 and mixed[2] == 0.0
    assert one[0] == pytest.approx(0.6 * 1 / np.sqrt(2) + 0.4)


def test_typo_is_resolved_to_the_known_word(index: LexicalIndex) -> None:
    assert index.resolve("интернэт") == "интернет"
    assert index.resolve("интернет") == "интернет"
    assert index.scores(["интернэт", "работает"]).tolist() == pytest.approx([0.0, 1.0, 0.0])


def test_far_or_short_words_are_not_resolved(index: LexicalIndex) -> None:
    assert index.resolve("погода") is None
    assert index.resolve("тар") is None  # under 4 letters: never fuzzy


def test_unknown_words_lower_the_score(index: LexicalIndex) -> None:
    clean = index.scores(["сменить", "тариф"])
    noisy = index.scores(["сменить", "тариф", "погода"])
    noisier = index.scores(["сменить", "тариф", "погода", "москва"])

    assert clean[2] == pytest.approx(1.0)
    assert clean[2] > noisy[2] > noisier[2] > 0.0


def test_only_unknown_words_score_zero_everywhere(index: LexicalIndex) -> None:
    assert index.scores(["погода", "москва"]).tolist() == [0.0, 0.0, 0.0]


def test_empty_query_scores_zero(index: LexicalIndex) -> None:
    assert index.scores([]).tolist() == [0.0, 0.0, 0.0]


def test_rare_word_weighs_more_than_a_common_one() -> None:
    documents = [["интернет", "роутер"], ["интернет", "тариф"], ["интернет", "оплата"]]
    index = LexicalIndex(documents, [0, 1, 2], 3)

    by_rare = index.scores(["роутер"])
    by_common = index.scores(["интернет"])

    assert by_rare[0] > by_common[0]
    assert by_common[0] == pytest.approx(by_common[1]) == pytest.approx(by_common[2])


def test_exclude_document_removes_its_paraphrase_cosine(index: LexicalIndex) -> None:
    with_it = index.scores(["интернет", "работает"])
    without = index.scores(["интернет", "работает"], exclude_document=2)

    assert with_it[1] == pytest.approx(1.0)
    assert without[1] < with_it[1]


def test_excluded_document_gives_its_entry_nothing_when_siblings_share_no_word(
    index: LexicalIndex,
) -> None:
    # Document 0 («узнать баланс») left out: entry 0's other paraphrase shares no word with it.
    scores = index.scores(["узнать", "баланс"], exclude_document=0)

    assert scores[0] == 0.0


def test_char_ngrams_pad_words_and_keep_short_ones_once() -> None:
    from voicebot.lexical import char_ngrams

    assert char_ngrams("да", 2, 3) == [" д", "да", "а ", " да", "да "]
    assert char_ngrams("я", 2, 5) == [" я", "я ", " я "]
    assert char_ngrams("a", 4, 5) == [" a "]


def test_char_vectorizer_rows_are_unit_and_typos_stay_close() -> None:
    from voicebot.lexical import CharNgramVectorizer

    texts = ["какой у меня баланс", "как оплатить интернет", "роутер не работает"]
    vectorizer = CharNgramVectorizer(texts)
    rows = vectorizer.transform(["какой у меня балланс", "zzz"])
    dense = rows.dot(np.eye(vectorizer.width, dtype=np.float32))
    assert np.linalg.norm(dense[0]) == pytest.approx(1.0, abs=1e-5)
    assert not dense[1].any()  # nothing known: an empty row
    known = vectorizer.transform(texts).dot(np.eye(vectorizer.width, dtype=np.float32))
    similarity = known @ dense[0]
    assert int(np.argmax(similarity)) == 0 and similarity[0] > 0.7


def test_sparse_rows_dot_and_transpose_match_dense() -> None:
    from voicebot.lexical import SparseRows

    rows = SparseRows(
        np.array([0, 2, 2, 3], dtype=np.int64),
        np.array([0, 2, 1], dtype=np.int64),
        np.array([1.0, 2.0, 3.0], dtype=np.float32),
        3,
    )
    dense = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 3.0, 0.0]], dtype=np.float32)
    other = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose(rows.dot(other), dense @ other)
    np.testing.assert_allclose(rows.transposed().dot(other), dense.T @ other)


def test_known_share_counts_seen_ngrams() -> None:
    from voicebot.lexical import CharNgramVectorizer

    vectorizer = CharNgramVectorizer(["баланс"])
    assert vectorizer.known_share("баланс") == 1.0
    assert vectorizer.known_share("щщщ") == 0.0
    assert 0.0 < vectorizer.known_share("баланс щщщ") < 1.0
    assert vectorizer.known_share("") == 0.0
