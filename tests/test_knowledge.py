"""Knowledge bases: bot.yaml defaults, every validation problem with file:line, writing back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from voicebot.errors import KnowledgeBaseError
from voicebot.knowledge import (
    BotConfig,
    FaqEntry,
    Problem,
    Prompts,
    Thresholds,
    Topic,
    check_knowledge_base,
    load_knowledge_base,
    write_knowledge_base,
)

WriteKb = Callable[..., Path]

ONE_ENTRY = [
    {
        "id": "balance-check",
        "topic": "billing",
        "questions": ["как узнать баланс"],
        "answer": "В кабинете.",
    }
]


def errors_of(root: Path) -> list[tuple[str, int, str]]:
    """(source, line, message) of every error, in report order."""
    return [
        (p.source, p.line, p.message) for p in check_knowledge_base(root) if p.severity == "error"
    ]


def warnings_of(root: Path) -> list[tuple[str, int, str]]:
    """(source, line, message) of every warning, in report order."""
    return [
        (p.source, p.line, p.message) for p in check_knowledge_base(root) if p.severity == "warning"
    ]


# --- bot.yaml ----------------------------------------------------------------------------------


def test_minimal_bot_yaml_with_topic_list_gets_every_default(write_kb: WriteKb) -> None:
    root = write_kb(
        {"billing.yaml": ONE_ENTRY},
        bot={"name": "Линия", "language": "ru", "topics": ["billing", "tech"]},
    )

    kb = load_knowledge_base(root)

    assert kb.config == BotConfig(
        name="Линия",
        language="ru",
        greeting="Здравствуйте! Чем могу помочь?",
        prompts=Prompts(),
        topics={"billing": Topic("billing", "billing", 0), "tech": Topic("tech", "tech", 0)},
        thresholds=Thresholds(answer=0.62, clarify=0.50, margin=0.04),
        working_hours={},
        holidays=(),
    )
    assert kb.warnings == ()
    assert kb.root == root
    assert [e.id for e in kb.entries] == ["balance-check"]


def test_topics_as_mapping_carry_title_and_priority(write_kb: WriteKb) -> None:
    bot = (
        "name: Линия\n"
        "language: ru\n"
        "topics:\n"
        "  billing: {title: Оплата и баланс}\n"
        "  complaints: {title: Жалобы, priority: 2}\n"
        "  tech:\n"
    )
    root = write_kb({"billing.yaml": ONE_ENTRY}, bot=bot)

    kb = load_knowledge_base(root)

    assert dict(kb.config.topics) == {
        "billing": Topic("billing", "Оплата и баланс", 0),
        "complaints": Topic("complaints", "Жалобы", 2),
        "tech": Topic("tech", "tech", 0),
    }
    assert kb.topic("complaints").priority == 2
    assert kb.topic("unlisted") == Topic("unlisted", "unlisted", 0)


def test_empty_bot_yaml_is_all_defaults_and_any_topic_is_allowed(write_kb: WriteKb) -> None:
    entries = [{"id": "a", "topic": "whatever", "questions": ["вопрос"], "answer": "ответ"}]
    root = write_kb({"x.yaml": entries}, bot="")

    kb = load_knowledge_base(root)

    assert kb.config == BotConfig()
    assert kb.entries[0].topic == "whatever"


def test_bot_yaml_prompts_and_thresholds_override_defaults(write_kb: WriteKb) -> None:
    bot = {
        "name": "Линия",
        "prompts": {"goodbye": "Пока!", "unknown_phrase": "x"},
        "thresholds": {"answer": 0.7, "margin": "0.1"},
        "holidays": ["2025-01-01"],
        "working_hours": {"open": "09:00"},
    }
    root = write_kb({"billing.yaml": ONE_ENTRY}, bot=bot)

    kb = load_knowledge_base(root)

    assert kb.config.prompts == Prompts(goodbye="Пока!")
    assert kb.config.thresholds == Thresholds(answer=0.7, clarify=0.5, margin=0.1)
    assert kb.config.holidays == ("2025-01-01",)
    assert dict(kb.config.working_hours) == {"open": "09:00"}
    assert [(p.source, p.message) for p in kb.warnings] == [
        ("bot.yaml", "неизвестная фраза prompts.unknown_phrase")
    ]


def test_entry_defaults_topic_title_escalate_and_location(write_kb: WriteKb) -> None:
    entries = [{"id": "a", "questions": "единственный вопрос", "answer": "ответ"}]
    root = write_kb({"x.yaml": entries}, bot={"name": "Линия"})

    entry = load_knowledge_base(root).entry("a")

    assert entry == FaqEntry(
        id="a",
        topic="general",
        questions=("единственный вопрос",),
        answer="ответ",
        escalate=False,
        title="",
        source="faq/x.yaml",
        line=1,
    )
    assert entry.spoken_title == "единственный вопрос"
    assert entry.location == "faq/x.yaml:1"


# --- every validation problem --------------------------------------------------------------------


def test_duplicate_id_across_files_names_both_locations(write_kb: WriteKb) -> None:
    first = [
        {"id": "other", "topic": "billing", "questions": ["другое"], "answer": "x"},
        {
            "id": "balance-check",
            "topic": "billing",
            "questions": ["как узнать баланс"],
            "answer": "x",
        },
    ]
    second = (
        "# второй файл\n\n- id: balance-check\n  topic: billing\n  questions: [где баланс]\n"
        "  answer: y\n"
    )
    root = write_kb({"a.yaml": first, "b.yaml": second}, bot={"topics": ["billing"]})

    assert errors_of(root) == [
        ("faq/b.yaml", 3, "повторяющийся id «balance-check» (уже есть в faq/a.yaml:6)")
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"id": "a", "topic": "billing", "questions": ["первый", ""], "answer": "x"},
            "запись «a»: вопрос №2 пустой",
        ),
        (
            {"id": "a", "topic": "billing", "questions": [None, "второй"], "answer": "x"},
            "запись «a»: вопрос №1 пустой",
        ),
        (
            {"id": "a", "topic": "billing", "questions": ["вопрос"], "answer": "  "},
            "запись «a»: пустой ответ (answer)",
        ),
        (
            {"id": "a", "topic": "billing", "questions": ["вопрос"]},
            "запись «a»: пустой ответ (answer)",
        ),
        (
            {"id": "a", "topic": "billing", "questions": [], "answer": "x"},
            "запись «a»: нет ни одного вопроса (questions)",
        ),
        (
            {"id": "a", "topic": "billing", "answer": "x"},
            "запись «a»: нет ни одного вопроса (questions)",
        ),
        (
            {"id": "Tariff_Change", "topic": "billing", "questions": ["вопрос"], "answer": "x"},
            "запись «Tariff_Change»: id может содержать только латинские строчные буквы, цифры и дефисы",
        ),
        (
            {"id": "смена-тарифа", "topic": "billing", "questions": ["вопрос"], "answer": "x"},
            "запись «смена-тарифа»: id может содержать только латинские строчные буквы, цифры и дефисы",
        ),
        (
            {"topic": "billing", "questions": ["вопрос"], "answer": "x"},
            "запись без id: не указан id",
        ),
        (
            {"id": "a", "topic": "nowhere", "questions": ["вопрос"], "answer": "x"},
            "запись «a»: неизвестная тема «nowhere» (есть: billing, tech)",
        ),
        (
            {
                "id": "a",
                "topic": "billing",
                "questions": ["вопрос"],
                "answer": "x",
                "escalate": "да",
            },
            "запись «a»: escalate должно быть true или false",
        ),
        (
            {"id": "a", "topic": "billing", "questions": ["вопрос"], "answer": "x", "escalate": 1},
            "запись «a»: escalate должно быть true или false",
        ),
    ],
)
def test_each_entry_problem_is_one_error_at_the_entry_line(
    write_kb: WriteKb, entry: dict[str, Any], message: str
) -> None:
    good = {"id": "good", "topic": "tech", "questions": ["хороший вопрос"], "answer": "x"}
    root = write_kb({"a.yaml": [good, entry]}, bot={"topics": ["billing", "tech"]})

    assert errors_of(root) == [("faq/a.yaml", 6, message)]


def test_same_question_in_two_entries_is_an_error_after_normalisation(write_kb: WriteKb) -> None:
    first = [{"id": "a", "topic": "billing", "questions": ["Как узнать баланс?"], "answer": "x"}]
    second = [
        {
            "id": "b",
            "topic": "billing",
            "questions": ["другой", "как  узнать   баланс"],
            "answer": "y",
        }
    ]
    root = write_kb({"a.yaml": first, "b.yaml": second}, bot={"topics": ["billing"]})

    assert errors_of(root) == [
        (
            "faq/b.yaml",
            1,
            "запись «b»: вопрос «как  узнать   баланс» уже есть в записи «a» (faq/a.yaml:1)",
        )
    ]


def test_same_question_twice_in_one_entry_is_a_warning(write_kb: WriteKb) -> None:
    entries = [{"id": "a", "topic": "billing", "questions": ["баланс", "Баланс!"], "answer": "x"}]
    root = write_kb({"a.yaml": entries}, bot={"topics": ["billing"]})

    assert errors_of(root) == []
    assert warnings_of(root) == [("faq/a.yaml", 1, "запись «a»: вопрос повторяется: «Баланс!»")]


def test_bad_yaml_reports_its_line(write_kb: WriteKb) -> None:
    text = "- id: a\n  topic: billing\n  questions: [раз, два\n  answer: x\n"
    root = write_kb({"a.yaml": text}, bot={"topics": ["billing"]})

    problems = errors_of(root)

    assert len(problems) == 1
    source, line, message = problems[0]
    assert (source, line) == ("faq/a.yaml", 4)
    assert message.startswith("неверный YAML: ")


def test_bad_yaml_in_bot_yaml_reports_its_line(write_kb: WriteKb) -> None:
    root = write_kb({"a.yaml": ONE_ENTRY}, bot="name: Линия\ntopics: [billing\ngreeting: x\n")

    problems = errors_of(root)

    assert [(s, line) for s, line, _ in problems] == [("bot.yaml", 3)]


def test_file_that_is_not_a_list_is_an_error_at_line_1(write_kb: WriteKb) -> None:
    root = write_kb({"a.yaml": {"id": "a", "questions": ["x"], "answer": "y"}}, bot={})

    assert errors_of(root) == [("faq/a.yaml", 1, "файл должен быть списком записей (- id: ...)")]


def test_list_item_that_is_not_a_mapping_is_an_error(write_kb: WriteKb) -> None:
    root = write_kb({"a.yaml": "- просто строка\n"}, bot={})

    assert errors_of(root) == [
        ("faq/a.yaml", 1, "запись должна быть словарём с полями id, topic, questions, answer")
    ]


def test_missing_bot_yaml_is_an_error(write_kb: WriteKb) -> None:
    root = write_kb({"a.yaml": ONE_ENTRY}, bot=None)

    assert errors_of(root) == [("bot.yaml", 0, "нет файла bot.yaml")]


def test_missing_faq_directory_is_an_error(write_kb: WriteKb) -> None:
    root = write_kb(None)

    assert errors_of(root) == [("faq", 0, "нет ни одного файла faq/*.yaml")]


def test_missing_knowledge_base_directory_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "absent"

    assert errors_of(root) == [(str(root), 0, "папка базы знаний не найдена")]
    with pytest.raises(KnowledgeBaseError):
        load_knowledge_base(root)


def test_bot_yaml_that_is_not_a_mapping_and_bad_thresholds_are_errors(write_kb: WriteKb) -> None:
    root_list = write_kb({"a.yaml": ONE_ENTRY}, bot="- name\n", name="list")
    root_thresholds = write_kb(
        {"a.yaml": ONE_ENTRY}, bot={"thresholds": {"answer": "высокий"}}, name="thresholds"
    )

    assert errors_of(root_list) == [("bot.yaml", 1, "bot.yaml должен быть словарём полей")]
    assert errors_of(root_thresholds) == [("bot.yaml", 0, "пороги thresholds должны быть числами")]


def test_unknown_entry_field_and_empty_file_are_warnings_and_still_load(write_kb: WriteKb) -> None:
    entries = [{"id": "a", "topic": "billing", "questions": ["q"], "answer": "x", "answr": "typo"}]
    root = write_kb({"a.yaml": entries, "empty.yaml": ""}, bot={"topics": ["billing"]})

    kb = load_knowledge_base(root)

    assert [(p.source, p.line, p.message) for p in kb.warnings] == [
        ("faq/a.yaml", 1, "запись «a»: неизвестное поле «answr»"),
        ("faq/empty.yaml", 0, "пустой файл"),
    ]


def test_problem_str_is_file_line_severity_message() -> None:
    assert str(Problem("error", "faq/a.yaml", 7, "плохо")) == "faq/a.yaml:7: ошибка: плохо"
    assert str(Problem("warning", "bot.yaml", 0, "странно")) == "bot.yaml: предупреждение: странно"


def test_every_problem_is_reported_at_once(write_kb: WriteKb) -> None:
    a = (
        "- id: one\n"
        "  topic: billing\n"
        "  questions: [как узнать баланс]\n"
        "  answer: ответ\n"
        "- id: Bad_Id\n"
        "  topic: nowhere\n"
        "  questions: ['', вопрос]\n"
        "  answer: ''\n"
        "  escalate: да\n"
    )
    b = (
        "# comment\n"
        "- id: one\n"
        "  topic: tech\n"
        "  questions: [где баланс]\n"
        "  answer: x\n"
        "- id: two\n"
        "  topic: tech\n"
        "  questions: ['Как узнать баланс?']\n"
        "  answer: y\n"
        "- id: three\n"
        "  answer: z\n"
    )
    root = write_kb(
        {
            "a.yaml": a,
            "b.yaml": b,
            "c.yaml": "- id: x\n  questions: [a\n  answer: x\n",
            "d.yaml": "id: four\n",
        },
        bot={"topics": ["billing", "tech"]},
    )

    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(root)

    assert str(caught.value) == f"база знаний {root} содержит ошибки: 10"
    assert caught.value.code == "knowledge_base_invalid"
    locations = sorted({p.split(": ")[0] for p in caught.value.problems})
    assert locations == [
        "faq/a.yaml:5",
        "faq/b.yaml:10",
        "faq/b.yaml:2",
        "faq/b.yaml:6",
        "faq/c.yaml:3",
        "faq/d.yaml:1",
    ]
    assert len(caught.value.problems) == 10
    assert all(": ошибка: " in p for p in caught.value.problems)


def test_non_integer_topic_priority_is_a_problem_not_a_crash(write_kb: WriteKb) -> None:
    root = write_kb({"a.yaml": ONE_ENTRY}, bot={"topics": {"billing": {"priority": "высокий"}}})

    problems = errors_of(root)

    assert [(s, line) for s, line, _ in problems] == [("bot.yaml", 0)]


def test_working_hours_not_a_mapping_is_a_problem_not_a_crash(write_kb: WriteKb) -> None:
    root = write_kb({"a.yaml": ONE_ENTRY}, bot={"topics": ["billing"], "working_hours": "9-18"})

    problems = errors_of(root)

    assert [(s, line) for s, line, _ in problems] == [("bot.yaml", 0)]


# --- writing ------------------------------------------------------------------------------------


def test_write_then_load_round_trips_every_field(tmp_path: Path) -> None:
    entries = [
        FaqEntry(
            "balance-check",
            "billing",
            ("как узнать баланс", "да", "123", "yes"),
            "«Баланс»: в кабинете.\nИли по телефону 8-800.",
            title="баланс",
        ),
        FaqEntry(
            "internet-down", "tech", ("нет интернета",), "Перезагрузите роутер.", escalate=True
        ),
        FaqEntry("payment-methods", "billing", ("как оплатить: картой?",), "Картой на сайте."),
    ]
    config = {
        "name": "Линия",
        "language": "ru",
        "topics": ["billing", "tech"],
        "thresholds": {"answer": 0.7, "clarify": 0.55, "margin": 0.05},
    }

    written = write_knowledge_base(tmp_path / "kb", entries, config)
    kb = load_knowledge_base(tmp_path / "kb")

    assert written == [
        tmp_path / "kb" / "bot.yaml",
        tmp_path / "kb" / "faq" / "billing.yaml",
        tmp_path / "kb" / "faq" / "tech.yaml",
    ]
    assert kb.config.name == "Линия"
    assert kb.config.thresholds == Thresholds(0.7, 0.55, 0.05)
    assert kb.warnings == ()

    def fields(e: FaqEntry) -> tuple[object, ...]:
        return (e.id, e.topic, e.questions, e.answer, e.escalate, e.title)

    assert sorted(fields(e) for e in kb.entries) == sorted(fields(e) for e in entries)
    billing_lines = (
        (tmp_path / "kb" / "faq" / "billing.yaml").read_text(encoding="utf-8").splitlines()
    )
    assert kb.entry("payment-methods").location == (
        f"faq/billing.yaml:{billing_lines.index('- id: payment-methods') + 1}"
    )
