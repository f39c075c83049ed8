"""Matching: the pure `decide`, the Matcher over fakes, `kb check`'s confusable questions, and the
real model over the default knowledge base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicebot.embedding import HashingEmbedder
from voicebot.events import Candidate, Decision
from voicebot.kb_lint import confusable_questions
from voicebot.knowledge import BotConfig, FaqEntry, KnowledgeBase, Thresholds
from voicebot.matcher import FusionSettings, Matcher, decide
from voicebot.text import IdentityLemmatizer

THRESHOLDS = Thresholds(answer=0.75, clarify=0.5, margin=0.125)


def cand(entry_id: str, score: float) -> Candidate:
    """A candidate with only the fused score set."""
    return Candidate(entry_id, score, 0.0, 0.0)


# --- decide(): pure --------------------------------------------------------------------------------


def test_decide_answers_a_clear_winner_and_keeps_the_top_three() -> None:
    candidates = [cand("a", 0.9), cand("b", 0.3), cand("c", 0.2), cand("d", 0.1)]

    decision = decide(candidates, THRESHOLDS)

    assert decision == Decision(
        kind="answer",
        entry_id="a",
        candidates=(cand("a", 0.9), cand("b", 0.3), cand("c", 0.2)),
        scores={"a": 0.9, "b": 0.3, "c": 0.2},
    )


def test_decide_answers_a_single_candidate_above_the_threshold() -> None:
    decision = decide([cand("a", 0.8)], THRESHOLDS)

    assert (decision.kind, decision.entry_id) == ("answer", "a")


def test_decide_clarifies_when_the_top_two_are_close_even_above_the_answer_threshold() -> None:
    decision = decide([cand("a", 0.9), cand("b", 0.85), cand("c", 0.1)], THRESHOLDS)

    assert decision == Decision(
        kind="clarify",
        entry_id=None,
        candidates=(cand("a", 0.9), cand("b", 0.85)),
        scores={"a": 0.9, "b": 0.85, "c": 0.1},
    )


def test_decide_clarifies_a_best_in_the_middle_band() -> None:
    decision = decide([cand("a", 0.6), cand("b", 0.2)], THRESHOLDS)

    assert decision.kind == "clarify"
    assert decision.entry_id is None
    assert [c.entry_id for c in decision.candidates] == ["a", "b"]


def test_decide_escalates_a_single_middle_band_candidate() -> None:
    decision = decide([cand("a", 0.6)], THRESHOLDS)

    assert decision == Decision("escalate", None, (cand("a", 0.6),), {"a": 0.6})


def test_decide_escalates_below_the_clarify_threshold() -> None:
    candidates = [cand("a", 0.49), cand("b", 0.3), cand("c", 0.2), cand("d", 0.1)]

    decision = decide(candidates, THRESHOLDS)

    assert decision.kind == "escalate"
    assert decision.entry_id is None
    assert [c.entry_id for c in decision.candidates] == ["a", "b", "c"]


def test_decide_escalates_with_no_candidates() -> None:
    assert decide([], THRESHOLDS) == Decision(
        kind="escalate", entry_id=None, candidates=(), scores={}
    )


@pytest.mark.parametrize(
    ("best", "second", "kind"),
    [
        (
            0.75,
            0.625,
            "answer",
        ),  # best == answer threshold, margin == margin threshold: both inclusive
        (0.75, 0.6875, "clarify"),  # margin short
        (0.5, 0.0, "clarify"),  # best == clarify threshold
        (0.4921875, 0.0, "escalate"),
    ],
)
def test_decide_threshold_boundaries(best: float, second: float, kind: str) -> None:
    assert decide([cand("a", best), cand("b", second)], THRESHOLDS).kind == kind


def test_decide_rounds_scores_to_four_places() -> None:
    decision = decide([cand("a", 0.912345678), cand("b", 0.1)], THRESHOLDS)

    assert decision.scores == {"a": 0.9123, "b": 0.1}


# --- Matcher over fakes (HashingEmbedder + IdentityLemmatizer) -----------------------------------


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("как узнать баланс", "balance-check"),
        ("Сколько денег на счету?", "balance-check"),
        ("пропал интернет", "internet-down"),
        ("хочу оставить жалобу", "complaint"),
        ("Алло, девушка, как оплатить интернет?", "payment-methods"),
    ],
)
def test_a_paraphrase_is_answered_with_its_entry(
    fake_matcher: Matcher, text: str, entry_id: str
) -> None:
    decision = fake_matcher.match(text)

    assert (decision.kind, decision.entry_id) == ("answer", entry_id)


def test_rank_lists_every_entry_best_first_with_scores_in_range(fake_matcher: Matcher) -> None:
    ranking = fake_matcher.rank("Пропал интернет!")

    assert ranking.query == "Пропал интернет!"
    assert ranking.normalized == "пропал интернет"
    assert sorted(c.entry_id for c in ranking.candidates) == [
        "balance-check",
        "complaint",
        "internet-down",
        "payment-methods",
    ]
    assert ranking.candidates[0].entry_id == "internet-down"
    assert ranking.candidates[0].score >= fake_matcher.thresholds.answer
    scores = [c.score for c in ranking.candidates]
    assert scores == sorted(scores, reverse=True)
    in_range = pytest.approx(0.5, abs=0.5 + 1e-6)  # 0..1, float32 rounding allowed
    assert all(c.score == in_range and c.lexical == in_range for c in ranking.candidates)
    assert ranking.elapsed_ms > 0.0
    assert len(fake_matcher.rank("пропал интернет", top=2).candidates) == 2


def test_typo_is_still_answered(fake_matcher: Matcher) -> None:
    decision = fake_matcher.match("интернэт не работает")

    assert (decision.kind, decision.entry_id) == ("answer", "internet-down")


def test_out_of_scope_question_is_not_answered(fake_matcher: Matcher) -> None:
    assert fake_matcher.match("какая погода завтра").kind == "escalate"


def test_filler_only_utterance_has_no_candidates_and_escalates(fake_matcher: Matcher) -> None:
    assert fake_matcher.rank("Алло, девушка, здравствуйте!").candidates == ()
    assert fake_matcher.match("ммм") == Decision("escalate", None, (), {})


def test_kb_thresholds_are_used_unless_given(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    strict = Thresholds(answer=0.99, clarify=0.99, margin=0.0)
    default = Matcher(small_kb, HashingEmbedder(), IdentityLemmatizer(), cache_dir=tmp_path)
    strict_matcher = Matcher(
        small_kb, HashingEmbedder(), IdentityLemmatizer(), cache_dir=tmp_path, thresholds=strict
    )

    assert default.thresholds == Thresholds(answer=0.6, clarify=0.45, margin=0.04)
    assert default.match("как оплатить интернет").kind == "answer"
    assert strict_matcher.match("как оплатить интернет").kind == "escalate"


def test_choose_between_picks_the_best_of_the_offered_entries(fake_matcher: Matcher) -> None:
    ranking = fake_matcher.rank("оплата баланс", top=4)
    best_overall = ranking.candidates[0].entry_id
    offered = [ranking.candidates[2].entry_id, ranking.candidates[1].entry_id]

    chosen = fake_matcher.choose_between("оплата баланс", offered)

    assert best_overall not in offered
    assert chosen is not None and chosen.entry_id == ranking.candidates[1].entry_id
    assert fake_matcher.choose_between("оплата баланс", ["no-such-entry"]) is None


def test_alternative_rescues_a_garbled_first_hypothesis_with_a_small_penalty(
    fake_matcher: Matcher,
) -> None:
    clean = fake_matcher.rank("пропал интернет").candidates[0]
    rescued = fake_matcher.rank("шум треск", alternatives=["пропал интернет"]).candidates[0]

    assert rescued.entry_id == "internet-down"
    assert rescued.score == pytest.approx(clean.score - FusionSettings().alternative_penalty)
    decision = fake_matcher.match("шум треск", ["пропал интернет"])
    assert (decision.kind, decision.entry_id) == ("answer", "internet-down")


def test_alternative_is_used_when_the_first_hypothesis_is_empty(fake_matcher: Matcher) -> None:
    clean = fake_matcher.rank("пропал интернет").candidates[0]
    ranking = fake_matcher.rank("алло", alternatives=["пропал интернет"])

    assert ranking.normalized == ""
    assert ranking.candidates[0].entry_id == "internet-down"
    assert ranking.candidates[0].score == pytest.approx(clean.score - 0.03)


def test_a_good_first_hypothesis_is_not_penalised_by_alternatives(fake_matcher: Matcher) -> None:
    alone = fake_matcher.rank("пропал интернет").candidates[0]
    with_alternatives = fake_matcher.rank("пропал интернет", alternatives=["шум треск"]).candidates[
        0
    ]

    assert with_alternatives == alone


def test_only_the_first_two_alternatives_are_used(fake_matcher: Matcher) -> None:
    ranking = fake_matcher.rank("шум", alternatives=["треск", "гул", "пропал интернет"])

    assert all(c.score < 0.45 for c in ranking.candidates)


def test_paraphrases_are_indexed_in_entry_order(fake_matcher: Matcher) -> None:
    # faq files load sorted: billing.yaml, complaints.yaml, tech.yaml
    owners = [fake_matcher.paraphrase_owner(i) for i in range(fake_matcher.paraphrase_count)]

    assert (
        owners
        == ["balance-check"] * 3
        + ["payment-methods"] * 4
        + ["complaint"] * 2
        + ["internet-down"] * 3
    )


def test_left_out_paraphrase_does_not_match_itself(fake_matcher: Matcher) -> None:
    for index in range(fake_matcher.paraphrase_count):
        ranked = fake_matcher.rank_paraphrase_left_out(index, top=4)
        assert len(ranked) == 4
        # its own vector is excluded: nothing is a perfect semantic or fused match any more
        assert all(c.semantic < 0.99 and c.score < 0.99 for c in ranked)


def test_left_out_paraphrase_sharing_no_word_with_its_siblings_has_no_lexical_score(
    fake_matcher: Matcher,
) -> None:
    # «как узнать баланс» shares no content word with «сколько денег на счету» /
    # «проверить остаток средств».
    ranked = fake_matcher.rank_paraphrase_left_out(0, top=4)

    own = next(c for c in ranked if c.entry_id == "balance-check")
    assert own.lexical == 0.0


def test_lexical_mode_ranks_by_the_lexical_score_alone(
    small_kb: KnowledgeBase, tmp_path: Path
) -> None:
    matcher = Matcher(
        small_kb,
        HashingEmbedder(),
        IdentityLemmatizer(),
        cache_dir=tmp_path,
        fusion=FusionSettings(mode="lexical"),
    )

    ranking = matcher.rank("оплатить баланс интернет")

    assert [c.score for c in ranking.candidates] == [c.lexical for c in ranking.candidates]


def test_background_lines_close_to_a_paraphrase_are_dropped(
    small_kb: KnowledgeBase, tmp_path: Path
) -> None:
    background = ["какая погода завтра", "Как узнать баланс?", "алло", "расскажи анекдот"]

    matcher = Matcher(
        small_kb, HashingEmbedder(), IdentityLemmatizer(), cache_dir=tmp_path, background=background
    )

    assert matcher.background_used == 2  # «алло» normalises to nothing, «как узнать баланс» is ours
    assert matcher.intents.has_background
    vector = np.zeros((1, 256), dtype=np.float32)
    assert matcher.intents.probabilities(vector).shape == (1, 5)


def test_building_twice_reuses_the_embedding_cache(small_kb: KnowledgeBase, tmp_path: Path) -> None:
    first, second = HashingEmbedder(), HashingEmbedder()

    Matcher(small_kb, first, IdentityLemmatizer(), cache_dir=tmp_path)
    matcher = Matcher(small_kb, second, IdentityLemmatizer(), cache_dir=tmp_path)

    assert first.calls >= 2  # at least paraphrases and answers
    assert second.calls == 0  # everything came from the cache
    matcher.rank("пропал интернет")
    assert second.calls == 1  # a query is always encoded fresh


# --- confusable questions (kb check) -------------------------------------------------------------


def test_a_paraphrase_closer_to_another_entry_is_warned_about() -> None:
    kb = KnowledgeBase(
        BotConfig(),
        (
            FaqEntry(
                "internet-down",
                "tech",
                ("роутер горит красным", "ноутбук не видит вайфай", "авария на линии у соседей"),
                "Перезагрузите роутер.",
                source="faq/tech.yaml",
                line=1,
            ),
            FaqEntry(
                "outage",
                "tech",
                ("авария на линии у всех соседей", "авария у соседей на линии тоже"),
                "Идут работы.",
                source="faq/tech.yaml",
                line=8,
            ),
            FaqEntry(
                "balance-check",
                "billing",
                ("как узнать баланс", "сколько денег на счету"),
                "В кабинете.",
                source="faq/billing.yaml",
                line=1,
            ),
        ),
    )
    matcher = Matcher(kb, HashingEmbedder(), IdentityLemmatizer())

    problems = confusable_questions(matcher)

    assert [(p.severity, p.source, p.line) for p in problems] == [("warning", "faq/tech.yaml", 1)]
    assert problems[0].message.startswith(
        "запись «internet-down»: вопрос «авария на линии у соседей» ближе к записи «outage» ("
    )


def test_a_clean_knowledge_base_has_no_confusable_questions(fake_matcher: Matcher) -> None:
    assert confusable_questions(fake_matcher) == []


# --- the real model over the default knowledge base (integration) -----------------------------


@pytest.mark.slow
def test_real_internet_down_in_caller_words(real_matcher: Matcher) -> None:
    text = "алло девушка у меня интернет совсем пропал"

    ranking = real_matcher.rank(text)
    decision = real_matcher.match(text)

    assert ranking.candidates[0].entry_id == "internet-down"
    assert (decision.kind, decision.entry_id) == ("answer", "internet-down")


@pytest.mark.slow
def test_real_balance_check(real_matcher: Matcher) -> None:
    decision = real_matcher.match("как узнать баланс")

    assert (decision.kind, decision.entry_id) == ("answer", "balance-check")


@pytest.mark.slow
@pytest.mark.parametrize("text", ["какая завтра погода в москве", "посоветуйте рецепт борща"])
def test_real_out_of_scope_is_not_answered(real_matcher: Matcher, text: str) -> None:
    assert real_matcher.match(text).kind != "answer"


@pytest.mark.slow
def test_real_alternative_rescues_a_misrecognition(real_matcher: Matcher) -> None:
    ranking = real_matcher.rank("как у знать болон с", alternatives=["как узнать баланс"])

    assert ranking.candidates[0].entry_id == "balance-check"


@pytest.mark.slow
def test_real_matcher_indexes_the_whole_default_knowledge_base(real_matcher: Matcher) -> None:
    assert real_matcher.paraphrase_count == sum(len(e.questions) for e in real_matcher.kb.entries)
    assert len(real_matcher.kb.entries) >= 60
