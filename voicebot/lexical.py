"""Lexical scoring: idf-weighted lemma overlap, with rapidfuzz mapping typos onto known words.

Pure: works on lemma lists made by `voicebot.text`; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

FloatArray = NDArray[np.float32]


class PerEntryMax:
    """The largest per-paraphrase value of each entry (fast when paraphrases are grouped by entry)."""

    def __init__(self, owners: NDArray[np.int64], entry_count: int) -> None:
        """`owners[i]` is the entry of paraphrase i."""
        self._owners = owners
        self._entry_count = entry_count
        grouped = bool(np.all(np.diff(owners) >= 0)) if len(owners) else True
        present = np.unique(owners)
        self._starts: NDArray[np.int64] | None = None
        if grouped and len(present) == entry_count:
            self._starts = np.searchsorted(owners, np.arange(entry_count)).astype(np.int64)

    def __call__(self, values: FloatArray, fill: float) -> FloatArray:
        """Per-entry maxima of `values`; `fill` for entries without paraphrases."""
        if self._starts is not None:
            return np.maximum.reduceat(values, self._starts).astype(np.float32)
        best = np.full(self._entry_count, fill, dtype=np.float32)
        np.maximum.at(best, self._owners, values)
        return best


class LexicalIndex:
    """Scores every entry against a query by shared lemmas (paraphrase-wise and entry-wise)."""

    def __init__(
        self,
        documents: Sequence[Sequence[str]],
        owners: Sequence[int],
        entry_count: int,
        *,
        fuzzy_cutoff: float = 84.0,
        paraphrase_weight: float = 0.6,
    ) -> None:
        """Index `documents` (lemma lists of paraphrases); `owners[i]` is document i's entry."""
        self._owners = np.asarray(owners, dtype=np.int64)
        self._per_entry_max = PerEntryMax(self._owners, entry_count)
        self._entry_count = entry_count
        self._fuzzy_cutoff = fuzzy_cutoff
        self._paraphrase_weight = paraphrase_weight
        entry_terms: list[set[str]] = [set() for _ in range(entry_count)]
        for terms, owner in zip(documents, owners, strict=True):
            entry_terms[owner].update(terms)
        document_frequency: dict[str, int] = {}
        for terms_of_entry in entry_terms:
            for term in terms_of_entry:
                document_frequency[term] = document_frequency.get(term, 0) + 1
        self._idf = {
            term: math.log(1.0 + entry_count / count) for term, count in document_frequency.items()
        }
        self._unknown_idf = math.log(1.0 + entry_count)
        self._vocabulary = sorted(self._idf)
        self._fuzzy_memo: dict[str, str | None] = {}
        doc_postings: dict[str, list[int]] = {}
        norms = np.zeros(len(documents), dtype=np.float32)
        self._doc_terms = [frozenset(terms) for terms in documents]
        # How many paraphrases of an entry hold a term (to leave one paraphrase out exactly).
        self._entry_term_docs: dict[tuple[int, str], int] = {}
        for doc_terms, owner in zip(self._doc_terms, owners, strict=True):
            for term in doc_terms:
                key = (owner, term)
                self._entry_term_docs[key] = self._entry_term_docs.get(key, 0) + 1
        for index, terms in enumerate(documents):
            unique = set(terms)
            norms[index] = math.sqrt(sum(self._idf[t] ** 2 for t in unique)) or 1.0
            for term in unique:
                doc_postings.setdefault(term, []).append(index)
        self._doc_norms = norms
        self._doc_postings = {t: np.asarray(ix, dtype=np.int64) for t, ix in doc_postings.items()}
        entry_postings: dict[str, list[int]] = {}
        for owner, terms_of_entry in enumerate(entry_terms):
            for term in terms_of_entry:
                entry_postings.setdefault(term, []).append(owner)
        self._entry_postings = {
            t: np.asarray(ix, dtype=np.int64) for t, ix in entry_postings.items()
        }

    def resolve(self, term: str) -> str | None:
        """The known term for `term`: itself, a close spelling (typo, ASR slip), or None."""
        if term in self._idf:
            return term
        if term in self._fuzzy_memo:
            return self._fuzzy_memo[term]
        found: str | None = None
        if len(term) >= 4 and self._vocabulary:
            best = process.extractOne(
                term, self._vocabulary, scorer=fuzz.ratio, score_cutoff=self._fuzzy_cutoff
            )
            if best is not None:
                found = str(best[0])
        self._fuzzy_memo[term] = found
        return found

    def scores(self, query_terms: Sequence[str], exclude_document: int | None = None) -> FloatArray:
        """Per-entry lexical score in 0..1 (a blend of best-paraphrase cosine and entry coverage)."""
        result = np.zeros(self._entry_count, dtype=np.float32)
        weights: dict[str, float] = {}
        for raw in query_terms:
            term = self.resolve(raw)
            if term is None:
                weights[f"?{raw}"] = self._unknown_idf
            else:
                weights[term] = self._idf[term]
        if not weights:
            return result
        query_norm = math.sqrt(sum(w * w for w in weights.values()))
        query_mass = sum(weights.values())
        overlap = np.zeros(len(self._doc_norms), dtype=np.float32)
        coverage = np.zeros(self._entry_count, dtype=np.float32)
        for term, weight in weights.items():
            postings = self._doc_postings.get(term)
            if postings is None:
                continue
            overlap[postings] += weight * weight
            coverage[self._entry_postings[term]] += weight
        cosine = overlap / (self._doc_norms * query_norm)
        if exclude_document is not None:
            cosine[exclude_document] = 0.0
            # Its words no longer speak for its entry unless another paraphrase has them too.
            owner = int(self._owners[exclude_document])
            for term, weight in weights.items():
                only_here = self._entry_term_docs.get((owner, term)) == 1
                if only_here and term in self._doc_terms[exclude_document]:
                    coverage[owner] -= weight
        best = self._per_entry_max(cosine, fill=0.0)
        coverage /= query_mass
        result = self._paraphrase_weight * best + (1.0 - self._paraphrase_weight) * coverage
        return result.astype(np.float32)


# --- character n-grams ------------------------------------------------------------------

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class SparseRows:
    """A sparse matrix in CSR form: row i holds `values[indptr[i]:indptr[i+1]]` at `indices`."""

    indptr: IntArray
    indices: IntArray
    values: FloatArray
    width: int

    @property
    def rows(self) -> int:
        """How many rows."""
        return len(self.indptr) - 1

    def dot(self, dense: FloatArray) -> FloatArray:
        """This matrix times `dense` (width × k), as a dense rows × k array."""
        out = np.zeros((self.rows, dense.shape[1]), dtype=np.float32)
        starts = self.indptr[:-1]
        filled = self.indptr[1:] > starts
        if len(self.indices):
            gathered = dense[self.indices] * self.values[:, None]
            # Empty rows are skipped, so the remaining starts strictly increase.
            out[filled] = np.add.reduceat(gathered, starts[filled], axis=0)
        return out

    def transposed(self) -> SparseRows:
        """The transpose, in CSR form as well."""
        row_of = np.repeat(np.arange(self.rows, dtype=np.int64), np.diff(self.indptr))
        order = np.argsort(self.indices, kind="stable")
        counts = np.bincount(self.indices, minlength=self.width)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return SparseRows(indptr, row_of[order], self.values[order], self.rows)


def char_ngrams(text: str, low: int = 2, high: int = 5) -> list[str]:
    """Character n-grams of each space-padded word (a word shorter than n counts once)."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


class CharNgramVectorizer:
    """TF-IDF over character n-grams (sublinear tf, L2-normalised rows): robust to typos and endings."""

    def __init__(self, texts: Sequence[str], low: int = 2, high: int = 5) -> None:
        """Learn the vocabulary and idf weights from `texts`."""
        self._low, self._high = low, high
        document_frequency: dict[str, int] = {}
        for text in texts:
            for gram in set(char_ngrams(text, low, high)):
                document_frequency[gram] = document_frequency.get(gram, 0) + 1
        self._column = {gram: i for i, gram in enumerate(sorted(document_frequency))}
        count = len(texts)
        self._idf = np.asarray(
            [
                math.log((1.0 + count) / (1.0 + document_frequency[g])) + 1.0
                for g in sorted(document_frequency)
            ],
            dtype=np.float32,
        )

    @property
    def width(self) -> int:
        """Vocabulary size."""
        return len(self._column)

    def transform(self, texts: Sequence[str]) -> SparseRows:
        """Rows of tf-idf weights; n-grams never seen in training are ignored."""
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        for text in texts:
            counts: dict[int, int] = {}
            for gram in char_ngrams(text, self._low, self._high):
                column = self._column.get(gram)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            columns = sorted(counts)
            weights = [(1.0 + math.log(counts[c])) * float(self._idf[c]) for c in columns]
            norm = math.sqrt(sum(w * w for w in weights)) or 1.0
            indices.extend(columns)
            values.extend(w / norm for w in weights)
            indptr.append(len(indices))
        return SparseRows(
            np.asarray(indptr, dtype=np.int64),
            np.asarray(indices, dtype=np.int64),
            np.asarray(values, dtype=np.float32),
            self.width,
        )

    def known_share(self, text: str) -> float:
        """The share of `text`'s n-grams seen in training (0 for an empty text)."""
        grams = char_ngrams(text, self._low, self._high)
        return sum(g in self._column for g in grams) / len(grams) if grams else 0.0
