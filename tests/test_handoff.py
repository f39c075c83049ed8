"""Escalation: entities found in the caller's words, masking, complaint signs, the queue
priority, the customer list, the operator's summary card, the record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from voicebot.conversation import Conversation
from voicebot.dialogue import DialoguePolicy
from voicebot.entities import (
    complaint_signs,
    format_phone,
    mask_pii,
    normalize_phone,
    spoken_to_digits,
)
from voicebot.events import Escalation, Turn
from voicebot.handoff import (
    OUTCOME_TITLES,
    Entities,
    PastCall,
    PriorityWeights,
    VipListError,
    build_card,
    build_escalation,
    build_summary,
    find_entities,
    is_resolved,
    load_vip_numbers,
    past_calls,
    queue_priority,
    shorten,
)
from voicebot.knowledge import KnowledgeBase
from voicebot.matcher import Matcher
from voicebot.queue import PRIORITY_REPEAT_CALLER, PRIORITY_URGENT_TOPIC, PRIORITY_VIP
from voicebot.store.calls import OUTCOMES, CallStore

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


# --- spoken numbers, phones, accounts, addresses, amounts, dates ------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        (
            "восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
            "8 916 123 45 67",
        ),
        ("плюс семь девятьсот шестнадцать", "+7 916"),
        ("списали полторы тысячи рублей", "списали 1500 рублей"),
        ("тысячу двести рублей", "1200 рублей"),
        ("две тысячи двадцать пять", "2025"),
        ("сто пять", "105"),
        ("двадцать пятнадцать", "20 15"),  # tens are not followed by a teen: two numbers
        ("ноль семь", "0 7"),
        ("полтора часа", "полтора часа"),
        ("пятьсот каналов", "500 каналов"),
        ("у меня 3 телевизора", "у меня 3 телевизора"),
    ],
)
def test_spoken_numbers_become_digits(text: str, digits: str) -> None:
    assert spoken_to_digits(text) == digits


def test_only_long_spoken_numbers_become_digits_when_asked() -> None:
    text = "один вопрос: договор сто двадцать три четыреста пятьдесят шесть, пятьсот рублей"

    assert spoken_to_digits(text, min_digits=5) == ("один вопрос: договор 123 456, пятьсот рублей")


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        (
            "телефон восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
            ("89161234567",),
        ),
        (
            "плюс семь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
            ("79161234567",),
        ),
        ("восемь девять один шесть один два три четыре пять шесть семь", ("89161234567",)),
        (
            "мой мобильный девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
            ("9161234567",),
        ),
        ("код 9161234567", ()),  # ten digits without «телефон» nearby: not a phone
        ("89161234567 89031112233", ("89161234567", "89031112233")),
        ("+44 20 7946 0958", ("442079460958",)),
        ("+1 212 555 0123", ("12125550123",)),
    ],
)
def test_spoken_and_bare_phone_numbers(text: str, phones: tuple[str, ...]) -> None:
    assert find_entities([text]).phones == phones


def test_spoken_contract_number() -> None:
    found = find_entities(["номер договора сто двадцать три четыреста пятьдесят шесть"])

    assert found == Entities(accounts=("123456",))


@pytest.mark.parametrize(
    ("text", "addresses"),
    [
        ("улица Ленина дом 5 квартира 12", ("ул. Ленина, д. 5, кв. 12",)),
        ("ул. Мира, д. 3", ("ул. Мира, д. 3",)),
        ("живу на улице ленина дом пять квартира двенадцать", ("ул. Ленина, д. 5, кв. 12",)),
        ("проспект Мира 10 кв 5", ("просп. Мира, д. 10, кв. 5",)),
        ("улица маршала жукова дом 7 корпус 2", ("ул. Маршала Жукова, д. 7, корп. 2",)),
        ("переулок садовый дом 1 строение 2", ("пер. Садовый, д. 1, стр. 2",)),
        ("Садовая улица", ()),  # the name before the street type is not recognised
        ("на улице холодно", ()),  # no house number, not a capitalised name
        ("улица Гагарина", ("ул. Гагарина",)),
    ],
)
def test_addresses(text: str, addresses: tuple[str, ...]) -> None:
    assert find_entities([text]).addresses == addresses


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("списали полторы тысячи рублей", ("1500",)),
        ("заплатил тысячу двести рублей", ("1200",)),
        ("пятьсот рублей", ("500",)),
        ("99 рублей 90 копеек", ("99,90",)),
        ("долг 5 тысяч рублей", ("5000",)),
        ("1,5 тыс. руб.", ("1500",)),
        ("пятьсот каналов", ()),
    ],
)
def test_spoken_and_scaled_amounts(text: str, amounts: tuple[str, ...]) -> None:
    assert find_entities([text]).amounts == amounts


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("вчера списали деньги", ("вчера",)),
        ("позавчера и сегодня", ("позавчера", "сегодня")),
        ("15 марта", ("15 марта",)),
        ("пятнадцатого марта", ("15 марта",)),
        ("пятнадцать марта", ("15 марта",)),
        ("двадцать первого марта 2025 года", ("21 марта 2025",)),
        ("третье мая", ("3 мая",)),
        ("с первого числа не работает", ("с 1-го числа",)),
        ("до 15-го числа", ("до 15-го числа",)),
        ("платёж от 15.03.2025", ("15.03.2025",)),
        ("на прошлой неделе обещали", ("на прошлой неделе",)),
        ("заплатил 10.05 руб", ()),  # a sum, not the 10th of May
        ("три раза", ()),
    ],
)
def test_dates(text: str, dates: tuple[str, ...]) -> None:
    assert find_entities([text]).dates == dates


# --- masking and phone numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "masked"),
    [
        ("none", "телефон +7 916 123-45-67, договор 12345678, счёт 123456, списали 500 рублей"),
        (
            "partial",
            "телефон +7 916 ***-**-67, договор ****5678, счёт ****56, списали 500 рублей",
        ),
        ("full", "телефон [телефон], договор [номер], счёт [номер], списали 500 рублей"),
    ],
)
def test_masking_phone_and_account_numbers(mode: str, masked: str) -> None:
    text = "телефон +7 916 123-45-67, договор 12345678, счёт 123456, списали 500 рублей"

    assert mask_pii(text, mode) == masked  # type: ignore[arg-type]


def test_partial_masking_of_bare_phone_numbers() -> None:
    assert mask_pii("89161234567 или 8 (903) 111-22-33", "partial") == (
        "8916*****67 или 8 (903) ***-**-33"
    )


@pytest.mark.parametrize(
    ("number", "normalised"),
    [
        ("+7 (916) 123-45-67", "79161234567"),
        ("8 916 123 45 67", "79161234567"),
        ("89161234567", "79161234567"),
        ("9161234567", "79161234567"),
        ("sip:+79161234567@pbx.example.ru", "79161234567"),
        ("tel:+7-916-123-45-67", "79161234567"),
        ("+44 20 7946 0958", "442079460958"),
        ("101", "101"),
    ],
)
def test_phone_normalisation(number: str, normalised: str) -> None:
    assert normalize_phone(number) == normalised


def test_phone_formatting() -> None:
    assert format_phone("89161234567") == "+7 916 123-45-67"
    assert format_phone("+442079460958") == "+442079460958"
    assert format_phone("101") == "101"
    assert format_phone("anonymous") == "anonymous"


# --- complaint and anger -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "signs"),
    [
        (["Безобразие!!! Сколько можно"], ("безобразие", "!!", "сколько можно")),
        (["третий раз звоню по этому поводу"], ("третий раз звоню",)),
        (["звоню уже неделю, блин"], ("звоню уже неделю", "блин")),
        (["хочу оставить жалобу", "верните деньги"], ("жалобу", "верните деньги")),
        (["в который раз обещаете, надоело"], ("в который раз", "надоело")),
        (["первый раз звоню", "спасибо, всё понятно!"], ()),
        (["чертёж квартиры"], ()),
    ],
)
def test_complaint_signs(words: list[str], signs: tuple[str, ...]) -> None:
    assert complaint_signs(words) == signs


# --- history and priority ------------------------------------------------------------------------

NOW = datetime(2025, 3, 16, 12, 0, tzinfo=UTC)


def past(
    days: float, outcome: str | None, topic: str | None = "billing", result: str | None = None
) -> PastCall:
    """A call from the same number `days` before NOW."""
    return PastCall(NOW - timedelta(days=days), outcome, topic, "", operator_result=result)


def test_every_outcome_has_a_title_and_only_the_bot_resolves_on_its_own() -> None:
    assert set(OUTCOME_TITLES) == set(OUTCOMES)
    assert [o for o in OUTCOMES if is_resolved(past(1, o))] == ["resolved_by_bot"]
    assert is_resolved(past(1, "escalated", result="resolved"))
    assert is_resolved(past(1, "callback_requested", result="resolved"))  # called back
    assert not is_resolved(past(1, "escalated", result="callback"))
    assert not is_resolved(past(1, "abandoned", result="resolved"))
    assert is_resolved(past(1, "escalated", result="решено"), frozenset({"решено"}))


def test_priority_base_is_the_topics(small_kb: KnowledgeBase) -> None:
    none: frozenset[str] = frozenset()

    assert queue_priority(
        small_kb, "billing", "caller_request", "101", vip_numbers=none, history=()
    ) == (0, ())
    assert queue_priority(
        small_kb, None, "not_understood", "101", vip_numbers=none, history=()
    ) == (0, ())
    # «complaints» has priority 2 in bot.yaml, and the topic itself is a complaint sign: +2
    assert queue_priority(
        small_kb, "complaints", "entry_requires_operator", "101", vip_numbers=none, history=()
    ) == (4, (PRIORITY_URGENT_TOPIC,))


@pytest.mark.parametrize("caller", ["+7 916 123-45-67", "89161234567", "sip:+79161234567@pbx"])
def test_vip_caller_in_any_number_form(small_kb: KnowledgeBase, caller: str) -> None:
    vip = frozenset({normalize_phone("8 (916) 123-45-67")})

    assert queue_priority(
        small_kb, "billing", "caller_request", caller, vip_numbers=vip, history=()
    ) == (3, (PRIORITY_VIP,))


def test_urgent_topic_and_angry_words(small_kb: KnowledgeBase) -> None:
    none: frozenset[str] = frozenset()

    urgent = queue_priority(
        small_kb,
        "tech",
        "caller_request",
        "101",
        vip_numbers=none,
        history=(),
        urgent_topics=frozenset({"tech"}),
    )
    angry = queue_priority(
        small_kb,
        "billing",
        "caller_request",
        "101",
        vip_numbers=none,
        history=(),
        caller_words=["сколько можно ждать!"],
    )
    both = queue_priority(
        small_kb,
        "tech",
        "caller_request",
        "101",
        vip_numbers=none,
        history=(),
        urgent_topics=frozenset({"tech"}),
        caller_words=["безобразие"],
    )

    assert urgent == angry == both == (2, (PRIORITY_URGENT_TOPIC,))  # counted once


@pytest.mark.parametrize(
    ("history", "repeat"),
    [
        ([past(1, "escalated")], True),  # escalated, not closed as resolved
        ([past(1, "caller_hung_up")], True),
        ([past(1, "escalated", result="resolved")], False),
        ([past(1, "resolved_by_bot"), past(2, "escalated")], False),  # only the last one counts
        ([past(2, "resolved_by_bot"), past(1, "no_input")], True),  # newest first, any order in
        ([past(8, "escalated")], False),  # outside the 7-day window
        ([past(0.01, None)], False),  # in progress (this very call): ignored
        ([], False),
    ],
)
def test_repeat_caller_with_an_unresolved_last_call(
    small_kb: KnowledgeBase, history: list[PastCall], repeat: bool
) -> None:
    priority = queue_priority(
        small_kb,
        "billing",
        "caller_request",
        "101",
        vip_numbers=frozenset(),
        history=history,
        now=NOW,
    )

    assert priority == ((1, (PRIORITY_REPEAT_CALLER,)) if repeat else (0, ()))


def test_without_now_the_history_is_taken_as_already_windowed(small_kb: KnowledgeBase) -> None:
    priority = queue_priority(
        small_kb,
        "billing",
        "caller_request",
        "101",
        vip_numbers=frozenset(),
        history=[past(30, "failed")],
    )

    assert priority == (1, (PRIORITY_REPEAT_CALLER,))


def test_every_reason_at_once_and_custom_weights(small_kb: KnowledgeBase) -> None:
    vip = frozenset({"79161234567"})
    history = [past(1, "escalated", "complaints")]
    args = (small_kb, "complaints", "entry_requires_operator", "89161234567")

    assert queue_priority(*args, vip_numbers=vip, history=history, now=NOW) == (
        2 + 3 + 2 + 1,
        (PRIORITY_VIP, PRIORITY_URGENT_TOPIC, PRIORITY_REPEAT_CALLER),
    )
    assert (
        queue_priority(
            *args,
            vip_numbers=vip,
            history=history,
            now=NOW,
            weights=PriorityWeights(vip=10, urgent=0, repeat=5),
        )[0]
        == 17
    )


def test_serving_order_of_typical_callers(small_kb: KnowledgeBase) -> None:
    vip = frozenset({"79990000001"})
    callers = {
        "plain": ("billing", "79990000005", [], []),
        "repeat": ("billing", "79990000004", [past(1, "escalated")], []),
        "angry": ("billing", "79990000003", [], ["третий раз звоню, безобразие"]),
        "complaint": ("complaints", "79990000002", [], []),
        "vip": ("billing", "79990000001", [], []),
    }
    priorities = {
        name: queue_priority(
            small_kb,
            topic,
            "caller_request",
            number,
            vip_numbers=vip,
            history=history,
            now=NOW,
            caller_words=words,
        )[0]
        for name, (topic, number, history, words) in callers.items()
    }

    assert priorities == {"plain": 0, "repeat": 1, "angry": 2, "complaint": 4, "vip": 3}
    assert sorted(priorities, key=lambda n: -priorities[n]) == [
        "complaint",
        "vip",
        "angry",
        "repeat",
        "plain",
    ]


def test_past_calls_from_the_call_store(tmp_path: Path) -> None:
    store = CallStore(f"sqlite:///{tmp_path / 'calls.db'}")
    number = "+79161234567"
    for call_id, days in (("c1", 3), ("c2", 1)):
        store.start_call(
            call_id,
            caller=number,
            called="100",
            codec="slin16",
            sample_rate=16000,
            started_at=NOW - timedelta(days=days),
        )
    store.start_call(
        "c3", caller=number, called="100", codec="slin16", sample_rate=16000, started_at=NOW
    )
    store.end_call(
        "c1", ended_at=NOW - timedelta(days=3), outcome="resolved_by_bot", end_reason="goodbye"
    )
    escalation = Escalation(
        "c2",
        "caller_request",
        "billing",
        0,
        "Тема: Оплата и баланс\nКлиент сказал: «списали деньги»",
        (),
    )
    store.end_call(
        "c2",
        ended_at=NOW - timedelta(days=1),
        outcome="escalated",
        end_reason="caller_request",
        escalation=escalation,
    )

    history = past_calls(
        store.calls_from(number, NOW - timedelta(days=7)),
        exclude_call_id="c3",
        operator_results={"c2": "callback"},
    )
    store.close()

    assert history == (
        PastCall(
            NOW - timedelta(days=1),
            "escalated",
            "billing",
            "Клиент сказал: «списали деньги»",
            "callback",
        ),
        PastCall(NOW - timedelta(days=3), "resolved_by_bot", None, ""),
    )


# --- the customer list -------------------------------------------------------------------------


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    """A customer list file."""
    path = tmp_path / "vip.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_vip_list_one_number_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, "# VIP\n+7 (916) 123-45-67\n\n89031112233\n9261234567\n")

    assert load_vip_numbers(path) == {"79161234567", "79031112233", "79261234567"}


def test_vip_list_csv_with_a_phone_column(tmp_path: Path) -> None:
    semicolons = write(tmp_path, "\ufeffИмя;Телефон;Город\nИванов И.;8 916 123-45-67;Москва\n")
    assert load_vip_numbers(semicolons) == {"79161234567"}

    commas = write(tmp_path, 'name,phone\n"Петров, П.",+79031112233\n')
    assert load_vip_numbers(commas) == {"79031112233"}


def test_vip_list_reports_every_bad_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "имя;телефон\nИванов;8 916 123-45-67\nПетров;12345\nСидоров;\nКозлов;звонить вечером\n",
    )

    with pytest.raises(VipListError) as raised:
        load_vip_numbers(path)

    assert raised.value.problems == [
        "строка 3: «12345» — не номер телефона (нужно 10–15 цифр)",
        "строка 4: пустой номер — не номер телефона (нужно 10–15 цифр)",
        "строка 5: «звонить вечером» — не номер телефона (нужно 10–15 цифр)",
    ]
    assert str(raised.value).splitlines()[0] == f"список VIP-клиентов {path}: ошибок 3"


def test_vip_list_with_columns_but_no_phone_header(tmp_path: Path) -> None:
    path = write(tmp_path, "Иванов;89161234567\n")

    with pytest.raises(VipListError, match="строка 1: несколько столбцов, но нет заголовка"):
        load_vip_numbers(path)


def test_vip_list_missing_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(VipListError, match="не найден"):
        load_vip_numbers(tmp_path / "none.csv")
    with pytest.raises(VipListError, match="не в кодировке UTF-8"):
        load_vip_numbers(write(tmp_path, "телефон\n89161234567\n", encoding="cp1251"))


# --- the card ------------------------------------------------------------------------------------

CARD_TURNS = [
    bot("Здравствуйте"),
    caller("как узнать баланс"),
    bot("Баланс можно узнать в личном кабинете."),
    caller(
        "Безобразие, третий раз звоню! Вчера списали полторы тысячи рублей по договору 12345678"
    ),
    caller("[DTMF 0]"),
    caller(
        "адрес улица Ленина дом 5 квартира 12, телефон восемь девятьсот шестнадцать "
        "сто двадцать три сорок пять шестьдесят семь"
    ),
]
CARD_HISTORY = [
    PastCall(NOW - timedelta(days=1), "escalated", "billing", "Клиент сказал: «списали деньги»"),
    PastCall(NOW - timedelta(days=3), "resolved_by_bot", None, ""),
    PastCall(NOW - timedelta(days=30), "escalated", "tech", "давно"),
]


def test_card_with_everything_partially_masked(small_kb: KnowledgeBase) -> None:
    card = build_card(
        small_kb,
        reason="caller_request",
        topic="billing",
        turns=CARD_TURNS,
        answered=["balance-check"],
        caller="+7 (916) 123-45-67",
        history=CARD_HISTORY,
        now=NOW,
        vip_numbers=frozenset({"79161234567"}),
        mask_pii="partial",
    )

    assert card == {
        "version": 1,
        "caller": "+7 (916) 123-45-67",
        "caller_display": "+7 916 123-45-67",
        "vip": True,
        "topic": {"id": "billing", "title": "Оплата и баланс"},
        "reason": {"code": "caller_request", "text": "клиент попросил соединить с оператором"},
        "words": [
            "как узнать баланс",
            "Безобразие, третий раз звоню! Вчера списали полторы тысячи рублей по договору "
            "****5678",
            "адрес улица Ленина дом 5 квартира 12, телефон 8 916 *** ** 67",
        ],
        "answered": [{"id": "balance-check", "title": "проверка баланса"}],
        "entities": {
            "phones": ["+7 916 123-45-67"],
            "accounts": ["12345678"],
            "amounts": ["1500 руб."],
            "addresses": ["ул. Ленина, д. 5, кв. 12"],
            "dates": ["вчера"],
        },
        "complaint": {"detected": True, "evidence": ["«безобразие»", "«третий раз звоню»"]},
        "history": {
            "window_days": 7,
            "calls": 2,
            "topics": ["Оплата и баланс"],
            "last_unresolved": True,
            "recent": [
                {
                    "started_at": "2025-03-15T12:00:00+00:00",
                    "outcome": "escalated",
                    "outcome_text": "передан оператору",
                    "resolved": False,
                    "topic": "billing",
                    "topic_title": "Оплата и баланс",
                    "summary_line": "Клиент сказал: «списали деньги»",
                },
                {
                    "started_at": "2025-03-13T12:00:00+00:00",
                    "outcome": "resolved_by_bot",
                    "outcome_text": "решён ботом",
                    "resolved": True,
                    "topic": None,
                    "topic_title": "не определена",
                    "summary_line": "",
                },
            ],
        },
        "priority": {
            "value": 6,
            "reasons": ["vip", "urgent_topic", "repeat_caller"],
            "titles": [
                "VIP-клиент",
                "срочная тема или недовольство клиента",
                "повторный звонок по нерешённому вопросу",
            ],
        },
        "masking": "partial",
        "summary": (
            "Тема: Оплата и баланс. Причина: клиент попросил соединить с оператором. VIP-клиент. "
            "Клиент сказал: «как узнать баланс»; «Безобразие, третий раз звоню! Вчера списали "
            "полторы тысячи рублей по договору ****5678»; «адрес улица Ленина дом 5 квартира 12, "
            "телефон 8 916 *** ** 67». Бот уже ответил: проверка баланса. Найдено: телефон "
            "+7 916 123-45-67; номер договора/счёта 12345678; сумма 1500 руб.; адрес ул. Ленина, "
            "д. 5, кв. 12; дата вчера. Признаки недовольства: «безобразие», «третий раз звоню». "
            "Звонков с этого номера за 7 дней: 2 (Оплата и баланс), последний не решён. "
            "Приоритет 6: VIP-клиент, срочная тема или недовольство клиента, повторный звонок по "
            "нерешённому вопросу."
        ),
    }
    assert json.loads(json.dumps(card, ensure_ascii=False)) == card  # JSON-ready as it is


def card_for(kb: KnowledgeBase, words: list[str], mask: Any, **kwargs: Any) -> dict[str, object]:
    """A card of a plain call with these caller words (`mask` unchecked: bad modes too)."""
    return build_card(
        kb,
        reason="caller_request",
        topic="billing",
        turns=[caller(w) for w in words],
        answered=[],
        caller="101",
        history=(),
        now=NOW,
        mask_pii=mask,
        **kwargs,
    )


def test_card_masking_modes(small_kb: KnowledgeBase) -> None:
    words = ["договор 12345678, телефон +7 916 123-45-67"]

    full = card_for(small_kb, words, "full")
    none = card_for(small_kb, words, "none")

    assert full["words"] == ["договор [номер], телефон [телефон]"]
    assert full["entities"] == {
        "phones": ["+7 916 ***-**-67"],
        "accounts": ["****5678"],
        "amounts": [],
        "addresses": [],
        "dates": [],
    }
    assert none["words"] == words
    assert none["entities"] == {
        "phones": ["+7 916 123-45-67"],
        "accounts": ["12345678"],
        "amounts": [],
        "addresses": [],
        "dates": [],
    }
    assert card_for(small_kb, words, True)["words"] == [
        "договор ****5678, телефон +7 916 ***-**-67"
    ]
    assert card_for(small_kb, words, False)["words"] == words
    with pytest.raises(ValueError, match="mask_pii must be one of none, partial, full"):
        card_for(small_kb, words, "some")


def test_card_keeps_the_last_words_shortened(small_kb: KnowledgeBase) -> None:
    long = "интернет не работает " * 12
    words = [f"фраза {n}" for n in range(1, 6)] + [long]

    card = card_for(small_kb, words, "none", words_limit=3, chars_limit=40)

    assert card["words"] == ["фраза 4", "фраза 5", "интернет не работает интернет не…"]
    assert shorten("раз два три", 8) == "раз два…"
    assert shorten("  раз   два ", 8) == "раз два"


def test_card_of_an_unknown_topic_with_a_quiet_caller(small_kb: KnowledgeBase) -> None:
    card = build_card(
        small_kb,
        reason="not_understood",
        topic=None,
        turns=[],
        answered=["gone"],
        caller="89031112233",
        history=(),
        now=NOW,
    )

    assert (card["topic"], card["words"], card["answered"]) == (
        {"id": "general", "title": "не определена"},
        [],
        [{"id": "gone", "title": "gone"}],
    )
    assert card["complaint"] == {"detected": False, "evidence": []}
    assert card["history"] == {
        "window_days": 7,
        "calls": 0,
        "topics": [],
        "last_unresolved": False,
        "recent": [],
    }
    assert card["summary"] == (
        "Тема: не определена. Причина: бот не понял вопрос. Бот уже ответил: gone. Приоритет 0."
    )


def test_card_of_a_complaint_topic_and_a_resolved_callback(small_kb: KnowledgeBase) -> None:
    history = [
        PastCall(
            NOW - timedelta(days=2),
            "callback_requested",
            "complaints",
            "",
            operator_result="resolved",
        )
    ]

    card = build_card(
        small_kb,
        reason="entry_requires_operator",
        topic="complaints",
        turns=[caller("хочу оставить жалобу")],
        answered=["complaint"],
        caller="101",
        history=history,
        now=NOW,
        repeat_window_days=3,
    )

    assert card["complaint"] == {"detected": True, "evidence": ["тема «Жалобы»", "«жалобу»"]}
    assert card["priority"] == {
        "value": 4,
        "reasons": ["urgent_topic"],
        "titles": ["срочная тема или недовольство клиента"],
    }
    history_view = card["history"]
    assert isinstance(history_view, dict)
    assert (history_view["calls"], history_view["last_unresolved"]) == (1, False)
    assert history_view["recent"][0]["outcome_text"] == "заказан обратный звонок: resolved"
    assert str(card["summary"]).endswith(
        "Звонков с этого номера за 3 дня: 1 (Жалобы), последний решён. "
        "Приоритет 4: срочная тема или недовольство клиента."
    )


def test_build_summary_lists_addresses_and_dates(small_kb: KnowledgeBase) -> None:
    summary = build_summary(
        small_kb,
        "caller_request",
        "tech",
        [caller("с первого числа нет интернета, ул. Мира, д. 3")],
        [],
    )

    assert summary.splitlines()[-1] == "Найдено: адрес ул. Мира, д. 3, дата с 1-го числа"
