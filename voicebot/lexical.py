"""Lexical scoring: idf-weighted lemma overlap, with rapidfuzz mapping typos onto known words.

Pure: works on lemma lists made by `voicebot.text`; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
