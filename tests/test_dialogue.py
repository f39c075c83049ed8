"""The dialogue policy (pure: literal states, events and decisions) and the text Conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from voicebot.conversation import Conversation
from voicebot.dialogue import (
    CallerSaid,
    CallerSilent,
    ConversationStarted,
    DialoguePolicy,
    DialogueState,
    EndConversation,
    Escalate,
    InternalFailure,
    KeyPressed,
    PolicyEvent,
    RecordRating,
    Say,
    TimeLimitReached,
    is_closing,
    is_yes,
    spoken_rating,
    wants_operator,
)
from voicebot.embedding import EmbeddingKind, FloatMatrix, HashingEmbedder
from voicebot.events import Candidate, Decision, Turn
from voicebot.knowledge import BotConfig, KnowledgeBase, Prompts, Thresholds
from voicebot.matcher import Matcher
from voicebot.text import IdentityLemmatizer

GREETING = "Здравствуйте, это тестовая линия. Чем могу помочь?"
P = Prompts()
TRANSFER = Say(P.transfer, "transfer")
BALANCE_ANSWER = Say("Баланс можно узнать в личном кабинете.", "answer", "balance-check")
ANYTHING_ELSE = Say("Могу ещё чем-то помочь?", "prompt")
LISTENING = Say("Слушаю вас.", "prompt")


def cand(entry_id: str, score: float) -> Candidate:
    """A candidate with only the fused score set."""
    return Candidate(entry_id, score, 0.0, 0.0)


def answer(entry_id: str) -> Decision:
    """The matcher answered `entry_id`."""
    return Decision("answer", entry_id, (cand(entry_id, 0.9),), {entry_id: 0.9})


def clarify(first: str, second: str) -> Decision:
    """The matcher asks between two entries."""
    return Decision(
        "clarify", None, (cand(first, 0.55), cand(second, 0.53)), {first: 0.55, second: 0.53}
    )


MISS = Decision("escalate", None, (cand("balance-check", 0.2), cand("internet-down", 0.1)), {})
NOTHING = Decision("escalate", None, (), {})

LISTENING_STATE = DialogueState(phase="listening")
AFTER_BALANCE = DialogueState(
    phase="after_answer", answered=("balance-check",), last_topic="billing"
)
CLARIFYING = DialogueState(phase="clarifying", clarify_options=("balance-check", "payment-methods"))


@pytest.fixture
def policy(small_kb: KnowledgeBase) -> DialoguePolicy:
    """The policy over the small hotline."""
    return DialoguePolicy(small_kb)


def run(
    policy: DialoguePolicy, events: Sequence[PolicyEvent], state: DialogueState | None = None
) -> tuple[DialogueState, list[list[object]]]:
    """Apply events in order; the final state and each step's actions."""
    current = state or DialogueState()
    steps: list[list[object]] = []
    for event in events:
        current, actions = policy.step(current, event)
        steps.append(list(actions))
    return current, steps


# --- greeting, answers -----------------------------------------------------------------------------


def test_greeting_starts_listening(policy: DialoguePolicy) -> None:
    state, actions = policy.step(DialogueState(), ConversationStarted())

    assert state == DialogueState(phase="listening")
    assert actions == [Say(GREETING, "greeting")]


def test_answer_then_anything_else(policy: DialoguePolicy) -> None:
    state, actions = policy.step(
        LISTENING_STATE, CallerSaid("как узнать баланс", answer("balance-check"))
    )

    assert actions == [BALANCE_ANSWER, ANYTHING_ELSE]
    assert state == DialogueState(
        phase="after_answer", misses=0, answered=("balance-check",), last_topic="billing"
    )


def test_answers_accumulate_over_the_conversation(policy: DialoguePolicy) -> None:
    state, _ = run(
        policy,
        [
            CallerSaid("баланс", answer("balance-check")),
            CallerSaid("интернет", answer("internet-down")),
        ],
        LISTENING_STATE,
    )

    assert state.answered == ("balance-check", "internet-down")
    assert state.last_topic == "tech"


def test_escalate_entry_answers_then_transfers(policy: DialoguePolicy) -> None:
    state, actions = policy.step(LISTENING_STATE, CallerSaid("жалоба", answer("complaint")))

    assert actions == [
        Say("Жалобу передам специалисту.", "answer", "complaint"),
        TRANSFER,
        Escalate("entry_requires_operator", "complaints"),
    ]
    assert state.phase == "ended"
    assert state.answered == ("complaint",)


def test_prompts_come_from_the_knowledge_base(small_kb: KnowledgeBase) -> None:
    kb = KnowledgeBase(
        BotConfig(prompts=Prompts(anything_else="Ещё вопросы?"), greeting="Привет"),
        small_kb.entries,
    )
    policy = DialoguePolicy(kb)

    _, steps = run(policy, [ConversationStarted(), CallerSaid("баланс", answer("balance-check"))])

    assert steps == [[Say("Привет", "greeting")], [BALANCE_ANSWER, Say("Ещё вопросы?", "prompt")]]


# --- the caller asks for a person -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "оператор",
        "Оператора, пожалуйста!",
        "соедините с оператором",
        "позовите живого человека",
        "хочу поговорить с живым человеком",
        "соедините со специалистом",
        "переведите меня на специалиста",
        "дайте поговорить с человеком",
    ],
)
def test_operator_request_escalates(policy: DialoguePolicy, text: str) -> None:
    state, actions = policy.step(AFTER_BALANCE, CallerSaid(text, MISS))

    assert actions == [TRANSFER, Escalate("caller_request", "billing")]
    assert state.phase == "ended"


@pytest.mark.parametrize(
    "text", ["как узнать баланс", "у меня дома один человек", "специалист так и не пришёл", ""]
)
def test_ordinary_words_are_not_an_operator_request(text: str) -> None:
    assert not wants_operator(text)


def test_operator_request_topic_comes_from_a_confident_candidate(policy: DialoguePolicy) -> None:
    _, actions = policy.step(
        LISTENING_STATE, CallerSaid("оператора по интернету", answer("internet-down"))
    )

    assert actions == [TRANSFER, Escalate("caller_request", "tech")]


def test_operator_request_without_any_topic(policy: DialoguePolicy) -> None:
    _, actions = policy.step(LISTENING_STATE, CallerSaid("оператор", NOTHING))

    assert actions == [TRANSFER, Escalate("caller_request", None)]


def test_operator_request_while_clarifying(policy: DialoguePolicy) -> None:
    state, actions = policy.step(CLARIFYING, CallerSaid("дайте оператора", MISS))

    assert actions[-1] == Escalate("caller_request", None)
    assert state.phase == "ended"


def test_dtmf_zero_escalates_other_keys_do_nothing(policy: DialoguePolicy) -> None:
    state, actions = policy.step(AFTER_BALANCE, KeyPressed("0"))
    same, nothing = policy.step(AFTER_BALANCE, KeyPressed("5"))

    assert actions == [TRANSFER, Escalate("caller_request", "billing")]
    assert state.phase == "ended"
    assert (same, nothing) == (AFTER_BALANCE, [])


# --- not understood ---------------------------------------------------------------------------------


def test_first_miss_asks_again_second_miss_escalates(policy: DialoguePolicy) -> None:
    state, steps = run(
        policy, [CallerSaid("бла бла", MISS), CallerSaid("бла бла бла", MISS)], LISTENING_STATE
    )

    assert steps == [
        [Say(P.not_understood, "prompt")],
        [TRANSFER, Escalate("not_understood", None)],
    ]
    assert state.phase == "ended"


def test_an_answer_resets_the_miss_count(policy: DialoguePolicy) -> None:
    state, steps = run(
        policy,
        [
            CallerSaid("бла", MISS),
            CallerSaid("баланс", answer("balance-check")),
            CallerSaid("бла", MISS),
        ],
        LISTENING_STATE,
    )

    assert steps[2] == [Say(P.not_understood, "prompt")]
    assert (state.phase, state.misses) == ("listening", 1)


def test_max_misses_is_configurable(small_kb: KnowledgeBase) -> None:
    policy = DialoguePolicy(small_kb, max_misses=3)

    state, steps = run(policy, [CallerSaid("а", MISS)] * 3, LISTENING_STATE)

    assert state.phase == "ended"
    assert [len(s) for s in steps] == [1, 1, 2]
    assert steps[2][1] == Escalate("not_understood", None)


def test_miss_escalation_takes_the_topic_of_a_middling_candidate(policy: DialoguePolicy) -> None:
    middling = Decision("escalate", None, (cand("internet-down", 0.5),), {})

    _, steps = run(policy, [CallerSaid("что-то с сетью", middling)] * 2, LISTENING_STATE)

    assert steps[1][1] == Escalate("not_understood", "tech")


def test_clarify_with_one_candidate_is_a_miss(policy: DialoguePolicy) -> None:
    lonely = Decision("clarify", None, (cand("balance-check", 0.55),), {})

    state, actions = policy.step(LISTENING_STATE, CallerSaid("баланс?", lonely))

    assert actions == [Say(P.not_understood, "prompt")]
    assert state.misses == 1


# --- clarification -------------------------------------------------------------------------------


def test_clarify_asks_between_the_two_titles(policy: DialoguePolicy) -> None:
    state, actions = policy.step(
        LISTENING_STATE, CallerSaid("деньги", clarify("balance-check", "payment-methods"))
    )

    assert actions == [Say("Вы имеете в виду проверка баланса или способы оплаты?", "clarify")]
    assert state == DialogueState(
        phase="clarifying", clarify_options=("balance-check", "payment-methods")
    )


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("первое", "balance-check"),
        ("Первый!", "balance-check"),
        ("второе", "payment-methods"),
        ("давайте вторую", "payment-methods"),
        ("последнее", "payment-methods"),
    ],
)
def test_clarification_answered_by_position(
    policy: DialoguePolicy, text: str, entry_id: str
) -> None:
    state, actions = policy.step(CLARIFYING, CallerSaid(text, MISS))

    assert isinstance(actions[0], Say) and actions[0].entry_id == entry_id
    assert state.phase == "after_answer"
    assert state.clarify_options == ()


def test_clarification_answered_by_a_choice(policy: DialoguePolicy) -> None:
    _, actions = policy.step(
        CLARIFYING, CallerSaid("про оплату", MISS, choice=cand("payment-methods", 0.4))
    )

    assert actions == [
        Say("Оплатить можно картой на сайте.", "answer", "payment-methods"),
        ANYTHING_ELSE,
    ]


def test_a_choice_outside_the_options_is_not_taken(policy: DialoguePolicy) -> None:
    state, actions = policy.step(
        CLARIFYING, CallerSaid("про интернет", MISS, choice=cand("internet-down", 0.4))
    )

    assert actions == [Say(P.clarify_again, "prompt")]
    assert state.clarify_attempts == 1


def test_clarification_answered_by_another_full_question(policy: DialoguePolicy) -> None:
    _, actions = policy.step(CLARIFYING, CallerSaid("пропал интернет", answer("internet-down")))

    assert actions == [Say("Перезагрузите роутер.", "answer", "internet-down"), ANYTHING_ELSE]


def test_clarification_failed_twice_escalates_with_the_first_option_topic(
    policy: DialoguePolicy,
) -> None:
    state, steps = run(
        policy, [CallerSaid("не знаю", MISS), CallerSaid("ну не знаю", MISS)], CLARIFYING
    )

    assert steps == [
        [Say(P.clarify_again, "prompt")],
        [TRANSFER, Escalate("not_understood", "billing")],
    ]
    assert state.phase == "ended"


def test_no_while_clarifying_rejects_the_choice_and_does_not_end(policy: DialoguePolicy) -> None:
    state, actions = policy.step(
        CLARIFYING, CallerSaid("нет, спасибо", MISS, choice=cand("balance-check", 0.3))
    )

    assert actions == [Say(P.clarify_again, "prompt")]
    assert state.phase == "clarifying"


def test_neither_while_clarifying_answers_nothing(policy: DialoguePolicy) -> None:
    _, actions = policy.step(CLARIFYING, CallerSaid("ни первое ни второе", MISS))

    assert actions == [Say(P.clarify_again, "prompt")]


# --- closing, yes, empty ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["нет, спасибо", "Всё, до свидания!", "спасибо большое", "нет", "больше ничего не нужно"],
)
def test_closing_says_goodbye_and_ends(policy: DialoguePolicy, text: str) -> None:
    state, actions = policy.step(AFTER_BALANCE, CallerSaid(text, MISS))

    assert actions == [Say(P.goodbye, "goodbye"), EndConversation("caller_finished")]
    assert state.phase == "ended"


@pytest.mark.parametrize("text", ["нет интернета", "хорошо", "спасибо, а как оплатить?", ""])
def test_not_closing(text: str) -> None:
    assert not is_closing(text)


def test_yes_after_an_answer_invites_the_question(policy: DialoguePolicy) -> None:
    state, actions = policy.step(AFTER_BALANCE, CallerSaid("да", MISS))

    assert actions == [LISTENING]
    assert state.phase == "listening"
    assert state.misses == 0


@pytest.mark.parametrize("text", ["да", "Да, есть ещё вопрос", "ага", "можно"])
def test_bare_yes(text: str) -> None:
    assert is_yes(text)


def test_yes_with_a_question_is_the_question() -> None:
    assert not is_yes("да, как узнать баланс")


def test_yes_outside_after_answer_is_a_miss(policy: DialoguePolicy) -> None:
    _, actions = policy.step(LISTENING_STATE, CallerSaid("да", MISS))

    assert actions == [Say(P.not_understood, "prompt")]


@pytest.mark.parametrize("text", ["", "  ", "...", "?!"])
def test_empty_utterance_asks_to_go_on_without_counting_a_miss(
    policy: DialoguePolicy, text: str
) -> None:
    state, actions = policy.step(LISTENING_STATE, CallerSaid(text, NOTHING))

    assert actions == [LISTENING]
    assert state == LISTENING_STATE


# --- failures and the end ------------------------------------------------------------------


def test_internal_failure_apologises_and_escalates(policy: DialoguePolicy) -> None:
    state, actions = policy.step(AFTER_BALANCE, InternalFailure("RuntimeError: boom"))

    assert actions == [Say(P.apology, "apology"), Escalate("internal_error", "billing")]
    assert state.phase == "ended"


@pytest.mark.parametrize(
    "event",
    [
        ConversationStarted(),
        CallerSaid("оператор", MISS),
        CallerSaid("баланс", answer("balance-check")),
        KeyPressed("0"),
        InternalFailure("x"),
    ],
)
def test_nothing_happens_after_the_end(policy: DialoguePolicy, event: PolicyEvent) -> None:
    ended = DialogueState(phase="ended", answered=("balance-check",))

    assert policy.step(ended, event) == (ended, [])


# --- Conversation: matcher + policy over fakes --------------------------------------------------

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    """Always the same instant."""
    return AT


class BreakableEmbedder(HashingEmbedder):
    """The fake embedder that starts raising once `broken` is set (an engine failure)."""

    broken = False

    def encode(self, texts: Sequence[str], kind: EmbeddingKind) -> FloatMatrix:
        """Encode, or raise like a crashed model."""
        if self.broken:
            raise RuntimeError("model crashed")
        return super().encode(texts, kind)


def test_conversation_records_turns_and_answers(
    fake_matcher: Matcher, small_kb: KnowledgeBase
) -> None:
    conversation = Conversation(fake_matcher, DialoguePolicy(small_kb), clock=fixed_clock)

    greeting = conversation.start()
    reply = conversation.hear("как узнать баланс")

    assert greeting == [Say(GREETING, "greeting")]
    assert reply == [BALANCE_ANSWER, ANYTHING_ELSE]
    assert conversation.turns == [
        Turn("bot", GREETING, AT),
        Turn("caller", "как узнать баланс", AT),
        Turn("bot", BALANCE_ANSWER.text, AT),
        Turn("bot", ANYTHING_ELSE.text, AT),
    ]
    assert [d.entry_id for d in conversation.decisions] == ["balance-check"]
    assert not conversation.ended
    assert conversation.escalation is None


def test_conversation_closing(fake_matcher: Matcher, small_kb: KnowledgeBase) -> None:
    conversation = Conversation(fake_matcher, DialoguePolicy(small_kb), clock=fixed_clock)
    conversation.start()
    conversation.hear("как узнать баланс")

    actions = conversation.hear("нет, спасибо")

    assert actions == [Say(P.goodbye, "goodbye"), EndConversation("caller_finished")]
    assert conversation.ended
    assert conversation.escalation is None


def test_conversation_clarifies_and_takes_the_callers_choice(
    small_kb: KnowledgeBase, tmp_path: Path
) -> None:
    # Wide clarify band, unreachable answer threshold: every question becomes "X or Y?".
    matcher = Matcher(
        small_kb,
        HashingEmbedder(),
        IdentityLemmatizer(),
        cache_dir=tmp_path,
        thresholds=Thresholds(answer=0.999, clarify=0.05, margin=0.0),
    )
    conversation = Conversation(matcher, DialoguePolicy(small_kb), clock=fixed_clock)
    conversation.start()

    expected = tuple(c.entry_id for c in matcher.rank("оплата баланс").candidates[:2])
    question = conversation.hear("оплата баланс")
    options = conversation.state.clarify_options
    reply = conversation.hear("баланс")

    assert set(expected) == {"payment-methods", "balance-check"}
    assert options == expected
    titles = [small_kb.entry(entry_id).spoken_title for entry_id in expected]
    assert question == [Say(f"Вы имеете в виду {titles[0]} или {titles[1]}?", "clarify")]
    assert reply == [BALANCE_ANSWER, ANYTHING_ELSE]


def test_engine_failure_is_an_apology_and_an_escalation_never_silence(
    small_kb: KnowledgeBase, tmp_path: Path
) -> None:
    embedder = BreakableEmbedder()
    matcher = Matcher(small_kb, embedder, IdentityLemmatizer(), cache_dir=tmp_path)
    conversation = Conversation(matcher, DialoguePolicy(small_kb), call_id="c-1", clock=fixed_clock)
    conversation.start()
    embedder.broken = True

    actions = conversation.hear("как узнать баланс")

    assert actions == [Say(P.apology, "apology"), Escalate("internal_error", None)]
    assert conversation.ended
    assert conversation.escalation is not None
    assert conversation.escalation.call_id == "c-1"
    assert conversation.escalation.reason == "internal_error"
    assert "Причина: техническая ошибка бота" in conversation.escalation.summary
    assert "«как узнать баланс»" in conversation.escalation.summary
    assert conversation.turns[-1] == Turn("bot", P.apology, AT)


def test_dtmf_zero_in_a_conversation_escalates(
    fake_matcher: Matcher, small_kb: KnowledgeBase
) -> None:
    conversation = Conversation(fake_matcher, DialoguePolicy(small_kb), clock=fixed_clock)
    conversation.start()

    actions = conversation.press("0")

    assert actions == [TRANSFER, Escalate("caller_request", None)]
    assert conversation.turns[1] == Turn("caller", "[DTMF 0]", AT)
    assert conversation.escalation is not None and conversation.escalation.topic == "general"


def test_silence_asks_are_you_there_then_says_goodbye(policy: DialoguePolicy) -> None:
    state, _ = policy.step(DialogueState(), ConversationStarted())
    state, first = policy.step(state, CallerSilent())
    assert [a.text for a in first if isinstance(a, Say)] == [policy.prompts.are_you_there]
    assert state.phase == "listening"
    state, second = policy.step(state, CallerSilent())
    assert isinstance(second[-1], EndConversation) and second[-1].reason == "no_input"
    assert state.phase == "ended"


def test_speech_between_silences_resets_the_silence_count(policy: DialoguePolicy) -> None:
    state, _ = policy.step(DialogueState(), ConversationStarted())
    state, _ = policy.step(state, CallerSilent())
    state, _ = policy.step(state, CallerSaid("ээ", Decision("escalate", None, ())))
    assert state.silences == 0
    state, actions = policy.step(state, CallerSilent())
    assert state.phase != "ended"
    assert [a.text for a in actions if isinstance(a, Say)] == [policy.prompts.are_you_there]


def test_time_limit_hands_the_call_to_a_person(policy: DialoguePolicy) -> None:
    state, _ = policy.step(DialogueState(), ConversationStarted())
    state, actions = policy.step(state, TimeLimitReached())
    assert any(isinstance(a, Escalate) and a.reason == "time_limit" for a in actions)
    assert state.phase == "ended"


# --- the post-call rating ----------------------------------------------------------------------


@pytest.fixture
def rating_policy(small_kb: KnowledgeBase) -> DialoguePolicy:
    """The small hotline with the post-call rating switched on."""
    config = replace(small_kb.config, post_call_rating=True)
    return DialoguePolicy(replace(small_kb, config=config))


def test_without_the_rating_closing_says_goodbye(policy: DialoguePolicy) -> None:
    _, actions = policy.step(AFTER_BALANCE, CallerSaid("нет спасибо", NOTHING))
    assert actions == [Say(P.goodbye, "goodbye"), EndConversation("caller_finished")]


@pytest.mark.parametrize(
    ("event", "value"),
    [
        (KeyPressed("4"), 4),
        (CallerSaid("ну на пятёрку", NOTHING), 5),
        (CallerSaid("три", NOTHING), 3),
    ],
)
def test_the_rating_is_asked_after_closing_and_recorded(
    rating_policy: DialoguePolicy, event: PolicyEvent, value: int
) -> None:
    state, actions = rating_policy.step(AFTER_BALANCE, CallerSaid("нет спасибо", NOTHING))
    assert actions == [Say(P.rating_question, "prompt")] and state.phase == "rating"
    state, actions = rating_policy.step(state, event)
    assert actions == [
        RecordRating(value),
        Say(P.rating_thanks, "goodbye"),
        EndConversation("caller_finished"),
    ]
    assert state.phase == "ended"


@pytest.mark.parametrize(
    "event",
    [KeyPressed("7"), CallerSilent(), CallerSaid("не знаю два или три", NOTHING)],
    ids=["other key", "silence", "unclear"],
)
def test_no_clear_rating_ends_without_one(
    rating_policy: DialoguePolicy, event: PolicyEvent
) -> None:
    state = DialogueState(phase="rating", answered=("balance-check",))
    _, actions = rating_policy.step(state, event)
    assert actions == [Say(P.goodbye, "goodbye"), EndConversation("caller_finished")]


def test_zero_during_the_rating_still_reaches_a_person(rating_policy: DialoguePolicy) -> None:
    _, actions = rating_policy.step(DialogueState(phase="rating"), KeyPressed("0"))
    assert any(isinstance(a, Escalate) for a in actions)


@pytest.mark.parametrize(
    ("text", "value"),
    [("пять", 5), ("на четверку", 4), ("отлично", 5), ("2", 2), ("два три", None), ("", None)],
)
def test_spoken_rating(text: str, value: int | None) -> None:
    assert spoken_rating(text) == value
