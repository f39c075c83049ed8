"""Hybrid retrieval over a knowledge base: lexical + semantic scores, fused, then a decision.

`decide` is a pure function of the ranked candidates and the thresholds; `Matcher` does the
scoring with an injected embedder and lemmatiser.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicebot.embedding import Embedder, FloatMatrix, encode_cached
from voicebot.events import Candidate, Decision
from voicebot.intent_model import IntentModel, TrainingSettings, train_cached
from voicebot.knowledge import KnowledgeBase, Thresholds
from voicebot.lexical import CharNgramVectorizer, LexicalIndex, PerEntryMax
from voicebot.text import Lemmatizer, content_lemmas, normalize

# Background lines at least this close to a KB paraphrase are dropped from the background class.
BACKGROUND_MAX_SIMILARITY = 0.90
# The generic background corpus weighs as much as this many average entries.
BACKGROUND_CLASS_WEIGHT = 3.0
# An entry's answer, as a training example of its class, weighs this much (a paraphrase: 1).
ANSWER_SAMPLE_WEIGHT = 0.5
# The character n-gram classifier is skipped when one training epoch would cost more than
# this many multiply-adds (a knowledge base of thousands of entries): start-up stays short.
CHAR_EPOCH_BUDGET = 1e8
# Adam settings of the character n-gram classifier: sparse epochs are slow, so fewer, larger steps.
CHAR_TRAINING = TrainingSettings(epochs=50, learning_rate=0.02)


@dataclass(frozen=True)
class FusionSettings:
    """How lexical and semantic scores are combined into one 0..1 score."""

    classifier_weight: float = 0.4
    semantic_weight: float = 0.3
    lexical_weight: float = 0.3
    # A second classifier on character n-grams (typos, endings, colloquial spellings).
    char_weight: float = 0.3
    # E5 cosines are compressed into a high band: map [floor, ceiling] onto [0, 1].
    semantic_floor: float = 0.80
    semantic_ceiling: float = 0.95
    # n-best: a lower-ranked recognition alternative is trusted a little less.
    alternative_penalty: float = 0.03
    mode: str = "hybrid"  # "hybrid" | "lexical" | "semantic" (for benchmarks)


@dataclass(frozen=True)
class Ranking:
    """Every entry's scores for one query, best first (only the top few are kept)."""

    query: str
    normalized: str
    candidates: tuple[Candidate, ...]
    elapsed_ms: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def decide(candidates: Sequence[Candidate], thresholds: Thresholds) -> Decision:
    """Answer a clear winner, clarify between two close or middling ones, otherwise escalate."""
    top = tuple(candidates[:3])
    if not top:
        return Decision(kind="escalate", entry_id=None, candidates=(), scores={})
    best = top[0]
    second_score = top[1].score if len(top) > 1 else 0.0
    scores = {c.entry_id: round(c.score, 4) for c in top}
    if best.score >= thresholds.answer and best.score - second_score >= thresholds.margin:
        return Decision(kind="answer", entry_id=best.entry_id, candidates=top, scores=scores)
    if best.score >= thresholds.clarify and len(top) > 1:
        return Decision(kind="clarify", entry_id=None, candidates=top[:2], scores=scores)
    return Decision(kind="escalate", entry_id=None, candidates=top, scores=scores)


class Matcher:
    """Ranks a knowledge base's entries for a caller's question and decides what to do."""

    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder,
        lemmatizer: Lemmatizer,
        *,
        cache_dir: Path | None = None,
        fusion: FusionSettings | None = None,
        thresholds: Thresholds | None = None,
        background: Sequence[str] = (),
        training: TrainingSettings | None = None,
    ) -> None:
        """Precompute lexical postings, embeddings, and the intent classifier.

        `background`: generic out-of-scope utterances, trained as a "none of these" class.
        """
        self.kb = kb
        self.fusion = fusion or FusionSettings()
        self.thresholds = thresholds or kb.config.thresholds
        self._embedder = embedder
        self._lemmatizer = lemmatizer
        self._entry_ids = [e.id for e in kb.entries]
        owners: list[int] = []
        texts: list[str] = []
        for index, entry in enumerate(kb.entries):
            for question in entry.questions:
                owners.append(index)
                texts.append(normalize(question) or question.lower())
        self._owners = np.asarray(owners, dtype=np.int64)
        self._per_entry_max = PerEntryMax(self._owners, len(kb.entries))
        self._answer_weights = np.asarray(
            [1.0 / len(e.questions) for e in kb.entries], dtype=np.float32
        )
        self._paraphrase_texts = texts
        self.lexical = LexicalIndex(
            [content_lemmas(t, lemmatizer) for t in texts], owners, len(kb.entries)
        )
        self._paraphrase_vectors: FloatMatrix = encode_cached(embedder, texts, "query", cache_dir)
        answers = [e.answer for e in kb.entries]
        self._answer_vectors: FloatMatrix = encode_cached(embedder, answers, "passage", cache_dir)
        self.background_used = 0
        self._chars: CharNgramVectorizer | None = None
        self.char_intents: IntentModel | None = None
        self.intents = self._train_intents(background, cache_dir, training)

    def _train_intents(
        self, background: Sequence[str], cache_dir: Path | None, training: TrainingSettings | None
    ) -> IntentModel:
        entry_count = len(self._entry_ids)
        # Each entry learns from its paraphrases and, with less weight, from its answer
        # (imported FAQs often have one question and a long answer that says what it is about).
        answers = [normalize(e.answer) or e.answer for e in self.kb.entries]
        answer_vectors = encode_cached(self._embedder, answers, "query", cache_dir)
        vectors = np.vstack([self._paraphrase_vectors, answer_vectors])
        labels = np.concatenate([self._owners, np.arange(entry_count)])
        weights = np.concatenate(
            [
                np.ones(len(self._owners), dtype=np.float32),
                np.full(entry_count, ANSWER_SAMPLE_WEIGHT, dtype=np.float32),
            ]
        )
        generic = sorted({normalize(b) for b in background} - {""})
        own = sorted({normalize(b) for b in self.kb.out_of_scope} - {""})
        background_vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)
        background_weights = np.zeros(0, dtype=np.float32)
        background_texts: list[str] = []
        if generic:
            generic_vectors = encode_cached(self._embedder, generic, "query", cache_dir)
            # A generic line that sounds like one of this KB's questions is not background here.
            closest = (generic_vectors @ self._paraphrase_vectors.T).max(axis=1)
            kept = closest < BACKGROUND_MAX_SIMILARITY
            generic_vectors = generic_vectors[kept]
            background_texts = [text for text, keep in zip(generic, kept, strict=True) if keep]
            # The generic background weighs as much as BACKGROUND_CLASS_WEIGHT average entries.
            each = BACKGROUND_CLASS_WEIGHT * float(weights.sum()) / entry_count
            each /= max(1, len(generic_vectors))
            background_vectors = generic_vectors
            background_weights = np.full(len(generic_vectors), each, dtype=np.float32)
        if own:
            # The KB's own "not our business" examples count like paraphrases.
            own_vectors = encode_cached(self._embedder, own, "query", cache_dir)
            background_vectors = np.vstack([background_vectors, own_vectors])
            background_weights = np.concatenate(
                [background_weights, np.ones(len(own_vectors), dtype=np.float32)]
            )
            background_texts += own
        self.background_used = len(background_vectors)
        if self.background_used:
            vectors = np.vstack([vectors, background_vectors])
            labels = np.concatenate([labels, np.full(self.background_used, entry_count)])
            weights = np.concatenate([weights, background_weights])
        class_count = entry_count + (1 if self.background_used else 0)
        if self.fusion.char_weight > 0:
            texts = [*self._paraphrase_texts, *answers, *background_texts]
            chars = CharNgramVectorizer(texts)
            rows = chars.transform(texts)
            if 2.0 * len(rows.indices) * class_count <= CHAR_EPOCH_BUDGET:
                self._chars = chars
                self.char_intents = train_cached(
                    rows,
                    labels.astype(np.int64),
                    class_count,
                    weights,
                    has_background=bool(self.background_used),
                    cache_dir=cache_dir,
                    settings=CHAR_TRAINING,
                )
        return train_cached(
            vectors,
            labels.astype(np.int64),
            class_count,
            weights,
            has_background=bool(self.background_used),
            cache_dir=cache_dir,
            settings=training,
        )

    @property
    def paraphrase_count(self) -> int:
        """How many paraphrases are indexed."""
        return len(self._paraphrase_texts)

    def paraphrase_owner(self, index: int) -> str:
        """The entry id of paraphrase `index`."""
        return self._entry_ids[int(self._owners[index])]

    def _semantic(self, vector: FloatMatrix, exclude: int | None = None) -> FloatMatrix:
        sims = self._paraphrase_vectors @ vector
        if exclude is not None:
            sims[exclude] = -1.0
        best = self._per_entry_max(sims, fill=-1.0)
        # The answer (as an E5 passage) speaks for entries with few paraphrases: its weight is
        # 1/len(questions), so a one-question FAQ leans on it and a rich entry hardly at all.
        answer = self._answer_vectors @ vector
        weight = self._answer_weights
        combined: FloatMatrix = ((best + weight * answer) / (1.0 + weight)).astype(np.float32)
        return combined

    def _fuse(
        self,
        lexical: FloatMatrix,
        semantic: FloatMatrix,
        intent: FloatMatrix | None,
        char: FloatMatrix | None = None,
    ) -> FloatMatrix:
        f = self.fusion
        span = f.semantic_ceiling - f.semantic_floor
        semantic_scaled = np.clip((semantic - f.semantic_floor) / span, 0.0, 1.0)
        classifier_weight = f.classifier_weight if intent is not None else 0.0
        intent = intent if intent is not None else np.zeros_like(semantic)
        if f.mode == "lexical":
            return lexical
        if f.mode == "semantic":
            total = classifier_weight + f.semantic_weight
            fused = (classifier_weight * intent + f.semantic_weight * semantic_scaled) / total
        else:
            char_weight = f.char_weight if char is not None else 0.0
            char = char if char is not None else np.zeros_like(semantic)
            total = classifier_weight + f.semantic_weight + f.lexical_weight + char_weight
            fused = (
                classifier_weight * intent
                + f.semantic_weight * semantic_scaled
                + f.lexical_weight * lexical
                + char_weight * char
            ) / total
        result: FloatMatrix = fused.astype(np.float32)
        return result

    def _score_one(
        self, normalized: str, vector: FloatMatrix, exclude: int | None = None
    ) -> tuple[FloatMatrix, FloatMatrix, FloatMatrix]:
        lexical = self.lexical.scores(content_lemmas(normalized, self._lemmatizer), exclude)
        semantic = self._semantic(vector, exclude)
        # Left-out scoring (kb check) skips the classifiers: they were trained on that paraphrase.
        intent = char = None
        entries = len(self._entry_ids)
        if exclude is None:
            intent = self.intents.probabilities(vector[None, :])[0, :entries]
            if self._chars is not None and self.char_intents is not None:
                rows = self._chars.transform([normalized])
                # N-grams it never saw are evidence against every entry: scale by the known share.
                share = self._chars.known_share(normalized)
                char = self.char_intents.probabilities(rows)[0, :entries] * share
        return self._fuse(lexical, semantic, intent, char), lexical, semantic

    def rank(self, text: str, alternatives: Sequence[str] = (), top: int = 5) -> Ranking:
        """Score every entry for `text` (and n-best `alternatives`), best first."""
        started = time.perf_counter()
        hypotheses = [text, *alternatives[:2]]
        normalized = [normalize(h) for h in hypotheses]
        if not normalized[0].strip() and not any(n.strip() for n in normalized[1:]):
            return Ranking(text, "", (), (time.perf_counter() - started) * 1000)
        vectors = self._embedder.encode(
            [n or h for n, h in zip(normalized, hypotheses, strict=True)], "query"
        )
        penalty = self.fusion.alternative_penalty
        per_hypothesis = [
            (index * penalty, *self._score_one(norm, vector))
            for index, (norm, vector) in enumerate(zip(normalized, vectors, strict=True))
            if norm.strip()
        ]
        # Each entry keeps the score of the hypothesis that suits it best.
        fused_all = np.stack([fused - cost for cost, fused, _, _ in per_hypothesis])
        pick, columns = fused_all.argmax(axis=0), np.arange(fused_all.shape[1])
        best_fused = fused_all[pick, columns]
        best_lexical = np.stack([lexical for _, _, lexical, _ in per_hypothesis])[pick, columns]
        best_semantic = np.stack([semantic for _, _, _, semantic in per_hypothesis])[pick, columns]
        order = np.argsort(-best_fused)[:top]
        candidates = tuple(
            Candidate(
                entry_id=self._entry_ids[i],
                score=float(best_fused[i]),
                lexical=float(best_lexical[i]),
                semantic=float(best_semantic[i]),
            )
            for i in order
        )
        return Ranking(text, normalized[0], candidates, (time.perf_counter() - started) * 1000)

    def match(self, text: str, alternatives: Sequence[str] = ()) -> Decision:
        """Rank and decide with this knowledge base's thresholds."""
        return decide(self.rank(text, alternatives).candidates, self.thresholds)

    def choose_between(self, text: str, entry_ids: Sequence[str]) -> Candidate | None:
        """The best of `entry_ids` for `text` (the caller's answer to a clarifying question)."""
        ranking = self.rank(text, top=len(self._entry_ids))
        allowed = [c for c in ranking.candidates if c.entry_id in entry_ids]
        return allowed[0] if allowed else None

    def rank_paraphrase_left_out(self, index: int, top: int = 3) -> tuple[Candidate, ...]:
        """Rank paraphrase `index` against the knowledge base without itself (for `kb check`)."""
        vector = self._paraphrase_vectors[index]
        fused, lexical, semantic = self._score_one(self._paraphrase_texts[index], vector, index)
        order = np.argsort(-fused)[:top]
        return tuple(
            Candidate(self._entry_ids[i], float(fused[i]), float(lexical[i]), float(semantic[i]))
            for i in order
        )
