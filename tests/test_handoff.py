"""Escalation: entities found in the caller's words, the operator's summary card, the record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voicebot.conversation import Conversation
from voicebot.dialogue import DialoguePolicy
from voicebot.events import Escalation, Turn
from voicebot.handoff import Entities, build_escalation, build_summary, find_entities
from voicebot.knowledge import KnowledgeBase
from voicebot.matcher import Matcher

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def caller(text: str) -> Turn:
    """A caller turn at a fixed time."""
    return Turn("caller", text, AT)


def bot(text: str) -> Turn:
    """A bot turn at a fixed time."""
    return Turn("bot", text, AT)


# --- entities --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("мой телефон +7 916 123-45-67", ("79161234567",)),
        ("перезвоните на 89161234567", ("89161234567",)),
        ("номер 8 (916) 123 45 67", ("89161234567",)),
        ("у меня 3 телевизора", ()),
    ],
)
def test_phone_numbers(text: str, phones: tuple[str, ...]) -> None:
    assert find_entities([text]).phones == phones


@pytest.mark.parametrize(
    ("text", "accounts"),
    [
        ("номер договора 123456", ("123456",)),
        ("звоню по договору №778899", ("778899",)),
        ("лицевой счёт 12-34-56", ("123456",)),
        ("номер телефона 89161234567", ()),  # a phone is not an account
        ("договор 12", ()),  # too short to be a contract number
    ],
)
def test_contract_and_account_numbers(text: str, accounts: tuple[str, ...]) -> None:
    assert find_entities([text]).accounts == accounts


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("списали 500 рублей", ("500",)),
        ("заплатил 1 500 руб", ("1500",)),
        ("вернуть 99,90 ₽", ("99,90",)),
        ("долг 1200 р.", ("1200",)),
        ("на 2 месяца 500 рублей", ("500",)),
        ("500 каналов", ()),
    ],
)
def test_amounts_of_money(text: str, amounts: tuple[str, ...]) -> None:
    assert find_entities([text]).amounts == amounts


def test_entities_across_turns_are_deduplicated_in_order() -> None:
    found = find_entities(
        [
            "договор 4455667, телефон 8 (916) 123 45 67",
            "ещё раз: договор 4455667, списали 1200 р.",
            "и второй телефон +7 903 000-11-22",
        ]
    )

    assert found == Entities(
        phones=("89161234567", "79030001122"), accounts=("4455667",), amounts=("1200",)
    )


def test_no_entities() -> None:
    assert find_entities(["интернет не работает"]) == Entities()
    assert find_entities([]) == Entities()


def test_a_sum_after_the_word_schet_is_not_an_account_number() -> None:
    found = find_entities(["пришёл счёт на 12 500 рублей"])

    assert found == Entities(amounts=("12500",))


# --- summary and escalation ----------------------------------------------------------------


def test_summary_has_topic_reason_caller_words_answers_and_entities(
    small_kb: KnowledgeBase,
) -> None:
    turns = [
        bot("Здравствуйте"),
        caller("как узнать баланс"),
        bot("Баланс можно узнать в личном кабинете."),
        caller("оператора, договор 123456, списали 300 рублей"),
    ]

    summary = build_summary(small_kb, "caller_request", "billing", turns, ["balance-check"])

    assert summary == (
        "Тема: Оплата и баланс\n"
        "Причина: клиент попросил соединить с оператором\n"
        "Клиент сказал: «как узнать баланс»; «оператора, договор 123456, списали 300 рублей»\n"
        "Бот уже ответил: проверка баланса\n"
        "Найдено: номер договора/счёта 123456, сумма 300 руб."
    )


def test_summary_without_topic_answers_or_entities(small_kb: KnowledgeBase) -> None:
    summary = build_summary(small_kb, "not_understood", None, [caller("бла бла")], [])

    assert summary == "Тема: не определена\nПричина: бот не понял вопрос\nКлиент сказал: «бла бла»"


def test_summary_keeps_the_last_five_caller_lines_and_each_answer_once(
    small_kb: KnowledgeBase,
) -> None:
    turns = [caller(f"фраза {n}") for n in range(1, 8)]

    summary = build_summary(
        small_kb,
        "some_new_reason",
        "tech",
        turns,
        ["internet-down", "balance-check", "internet-down"],
    )

    assert summary.splitlines() == [
        "Тема: Техподдержка",
        "Причина: some_new_reason",
        "Клиент сказал: «фраза 3»; «фраза 4»; «фраза 5»; «фраза 6»; «фраза 7»",
        "Бот уже ответил: неработающий интернет; проверка баланса",
    ]


def test_escalation_priority_is_the_topics(small_kb: KnowledgeBase) -> None:
    turns = [caller("хочу оставить жалобу")]

    complaint = build_escalation(
        small_kb, "call-7", "entry_requires_operator", "complaints", turns, ["complaint"]
    )
    unknown = build_escalation(small_kb, "call-8", "not_understood", None, turns, [])

    assert (complaint.call_id, complaint.reason, complaint.topic, complaint.priority) == (
        "call-7",
        "entry_requires_operator",
        "complaints",
        2,
    )
    assert complaint.turns == (caller("хочу оставить жалобу"),)
    assert complaint.summary.startswith(
        "Тема: Жалобы\nПричина: вопрос требует участия специалиста\n"
    )
    assert (unknown.topic, unknown.priority) == ("general", 0)


def test_conversation_escalation_card_end_to_end(
    fake_matcher: Matcher, small_kb: KnowledgeBase
) -> None:
    conversation = Conversation(
        fake_matcher, DialoguePolicy(small_kb), call_id="call-1", clock=lambda: AT
    )
    conversation.start()
    conversation.hear("как узнать баланс")

    conversation.hear("соедините с оператором, мой телефон 8 916 123-45-67")

    escalation = conversation.escalation
    assert isinstance(escalation, Escalation)
    assert (escalation.call_id, escalation.reason, escalation.topic, escalation.priority) == (
        "call-1",
        "caller_request",
        "billing",
        0,
    )
    assert escalation.summary == (
        "Тема: Оплата и баланс\n"
        "Причина: клиент попросил соединить с оператором\n"
        "Клиент сказал: «как узнать баланс»; «соедините с оператором, мой телефон 8 916 123-45-67»\n"
        "Бот уже ответил: проверка баланса\n"
        "Найдено: телефон 89161234567"
    )
    # greeting, question, answer, «anything else?», operator request, «connecting you»
    assert [t.role for t in escalation.turns] == ["bot", "caller", "bot", "bot", "caller", "bot"]
