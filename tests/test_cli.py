"""The `voicebot` commands through click's CliRunner: ask, chat, kb check/eval/calibrate."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from voicebot.cli import main, write_thresholds
from voicebot.knowledge import Prompts, Thresholds, load_knowledge_base

WriteKb = Callable[..., Path]
DEFAULT_KB = Path(__file__).resolve().parents[1] / "knowledge_base"

EVAL_CONTRACT = [
    "cases",
    "in_scope",
    "out_of_scope",
    "answered_correct",
    "answered_wrong",
    "clarified",
    "escalated",
    "oos_answered",
    "accuracy",
    "wrong_answer_rate",
    "oos_answer_rate",
    "top1",
    "p95_ms",
]
EVAL_INTS = EVAL_CONTRACT[:8]

SMALL_CASES = (
    '{"text": "подскажите как узнать баланс", "expected": "balance-check"}\n'
    '{"text": "у меня пропал интернет", "expected": "internet-down"}\n'
    '{"text": "где внести оплату за интернет", "expected": "payment-methods"}\n'
    '{"text": "какая завтра погода в москве", "expected": null}\n'
)


def invoke(args: list[str], stdin: str | None = None) -> Result:
    """Run `voicebot ARGS` in-process."""
    return CliRunner().invoke(main, args, input=stdin, catch_exceptions=False)


# --- kb check --------------------------------------------------------------------------------


def test_kb_check_lists_every_problem_and_exits_1(write_kb: WriteKb) -> None:
    broken = (
        "- id: a\n  topic: billing\n  questions: [как узнать баланс]\n  answer: x\n"
        "- id: a\n  topic: billing\n  questions: [другой вопрос]\n  answer: ''\n"
    )
    root = write_kb({"billing.yaml": broken})

    result = invoke(["kb", "check", str(root)])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "faq/billing.yaml:5: ошибка: запись «a»: пустой ответ (answer)",
        "faq/billing.yaml:5: ошибка: повторяющийся id «a» (уже есть в faq/billing.yaml:1)",
    ]
    assert result.stderr.strip() == "ошибок: 2, предупреждений: 0"


def test_kb_check_without_model_on_a_good_kb(small_kb_dir: Path) -> None:
    result = invoke(["kb", "check", "--no-model", str(small_kb_dir)])

    assert result.exit_code == 0
    assert result.stdout.strip() == "в порядке: записей 4, вопросов 12, предупреждений 0"


def test_kb_check_of_a_missing_directory(tmp_path: Path) -> None:
    result = invoke(["kb", "check", "--no-model", str(tmp_path / "nothing")])

    assert result.exit_code == 1
    assert "папка базы знаний не найдена" in result.stdout


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_kb_check_with_the_model_on_a_good_kb(small_kb_dir: Path) -> None:
    result = invoke(["kb", "check", str(small_kb_dir)])

    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].startswith("в порядке: записей 4, вопросов 12, ")


# --- kb eval ---------------------------------------------------------------------------------


def test_kb_eval_names_a_bad_line_and_exits_1(small_kb_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"text": "баланс", "expected": "balance-check"}\n{"text": \n', encoding="utf-8"
    )

    result = invoke(["kb", "eval", str(small_kb_dir), str(cases)])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"ошибка [knowledge_base_invalid]: ошибки в файле примеров {cases}: 1"
    )
    assert result.stderr.splitlines()[1].startswith("  cases.jsonl:2: неверная строка: ")


def test_kb_eval_names_an_unknown_entry(small_kb_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"text": "тариф", "expected": "tariff-change"}\n', encoding="utf-8")

    result = invoke(["kb", "eval", str(small_kb_dir), str(cases)])

    assert result.exit_code == 1
    assert "  cases.jsonl:1: нет записи «tariff-change» в базе знаний" in result.stderr.splitlines()


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_kb_eval_json_prints_exactly_the_contract(small_kb_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(SMALL_CASES, encoding="utf-8")

    result = invoke(["kb", "eval", "--json", str(small_kb_dir), str(cases)])

    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) == 1
    data = json.loads(result.stdout)
    assert list(data) == EVAL_CONTRACT
    assert all(type(data[k]) is int for k in EVAL_INTS)
    assert all(type(data[k]) is float for k in EVAL_CONTRACT[8:])
    assert (data["cases"], data["in_scope"], data["out_of_scope"]) == (4, 3, 1)
    assert data["oos_answered"] == 0
    assert data["accuracy"] == round(data["answered_correct"] / 3, 4)


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_kb_eval_plain_prints_one_line_per_field(small_kb_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(SMALL_CASES, encoding="utf-8")

    result = invoke(["kb", "eval", str(small_kb_dir), str(cases)])

    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == EVAL_CONTRACT


# --- ask -------------------------------------------------------------------------------------


def test_ask_with_a_broken_kb_is_a_one_line_error(write_kb: WriteKb) -> None:
    root = write_kb({"a.yaml": "id: not-a-list\n"})

    result = invoke(["ask", "как узнать баланс", "--kb", str(root)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"ошибка [knowledge_base_invalid]: база знаний {root} содержит ошибки: 1",
        "  faq/a.yaml:1: ошибка: файл должен быть списком записей (- id: ...)",
    ]


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_ask_json_fields() -> None:
    result = invoke(["ask", "Подскажите, как узнать баланс?", "--json", "--kb", str(DEFAULT_KB)])

    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == [
        "text",
        "normalized",
        "decision",
        "entry_id",
        "answer",
        "candidates",
        "elapsed_ms",
    ]
    assert data["text"] == "Подскажите, как узнать баланс?"
    assert data["normalized"] == "как узнать баланс"
    assert (data["decision"], data["entry_id"]) == ("answer", "balance-check")
    assert data["answer"] == load_knowledge_base(DEFAULT_KB).entry("balance-check").answer
    assert len(data["candidates"]) == 5
    assert all(list(c) == ["entry_id", "score", "lexical", "semantic"] for c in data["candidates"])
    assert data["candidates"][0]["entry_id"] == "balance-check"
    assert all(type(c["score"]) is float for c in data["candidates"])
    assert type(data["elapsed_ms"]) is float


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_ask_json_out_of_scope_has_no_answer() -> None:
    result = invoke(["ask", "какая завтра погода в москве", "--json", "--kb", str(DEFAULT_KB)])

    data = json.loads(result.stdout)
    assert data["decision"] != "answer"
    assert (data["entry_id"], data["answer"]) == (None, None)


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_ask_plain_text() -> None:
    result = invoke(["ask", "как узнать баланс", "--kb", str(DEFAULT_KB)])

    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[0] == "решение: ответ (balance-check)"
    assert lines[2] == "кандидаты:"
    assert lines[-1].startswith("время: ")


# --- chat ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_chat_greets_answers_and_zero_escalates_with_a_card() -> None:
    kb = load_knowledge_base(DEFAULT_KB)

    result = invoke(["chat", "--kb", str(DEFAULT_KB)], stdin="как узнать баланс\n\n0\nещё строка\n")

    assert result.exit_code == 0
    out = result.stdout
    assert f"бот> {kb.config.greeting}" in out
    assert f"бот> {kb.entry('balance-check').answer}" in out
    assert f"бот> {kb.config.prompts.anything_else}" in out
    assert f"бот> {kb.config.prompts.transfer}" in out
    card = out.split("=== карточка для оператора ===\n", 1)[1]
    assert "Причина: клиент попросил соединить с оператором" in card
    assert "Клиент сказал: «как узнать баланс»; «[DTMF 0]»" in card
    assert f"Бот уже ответил: {kb.entry('balance-check').spoken_title}" in card
    assert "ещё строка" not in out  # the conversation ended at the escalation


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_chat_goodbye_ends_the_loop() -> None:
    result = invoke(["chat", "--kb", str(DEFAULT_KB)], stdin="как узнать баланс\nнет, спасибо\n")

    assert result.exit_code == 0
    assert result.stdout.rstrip().endswith(f"бот> {Prompts().goodbye}")
    assert "карточка для оператора" not in result.stdout


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_chat_end_of_input_just_stops() -> None:
    kb = load_knowledge_base(DEFAULT_KB)

    result = invoke(["chat", "--kb", str(DEFAULT_KB)], stdin="")

    assert result.exit_code == 0
    assert result.stdout.startswith(f"бот> {kb.config.greeting}\n")


# --- kb calibrate and write_thresholds ---------------------------------------------------------

BOT_YAML = (
    "# Тестовая линия\n"
    "name: Тестовая линия\n"
    "language: ru\n"
    "thresholds:\n"
    "  answer: 0.62\n"
    "  clarify: 0.5   # средняя полоса\n"
    "  margin: 0.04\n"
    "topics:\n"
    "  billing: {title: Оплата и баланс}\n"
    "  tech: {title: Техподдержка}\n"
    "  complaints: {title: Жалобы, priority: 2}\n"
)


def test_write_thresholds_replaces_only_the_block(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(BOT_YAML, encoding="utf-8")

    write_thresholds(path, Thresholds(answer=0.7, clarify=0.55, margin=0.06))

    assert path.read_text(encoding="utf-8") == BOT_YAML.replace(
        "thresholds:\n  answer: 0.62\n  clarify: 0.5   # средняя полоса\n  margin: 0.04\n",
        "thresholds:\n  answer: 0.7\n  clarify: 0.55\n  margin: 0.06\n",
    )


def test_write_thresholds_replaces_an_inline_mapping(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("name: X\nthresholds: {answer: 0.9}\nlanguage: ru\n", encoding="utf-8")

    write_thresholds(path, Thresholds(0.7, 0.55, 0.06))

    assert path.read_text(encoding="utf-8") == (
        "name: X\nthresholds:\n  answer: 0.7\n  clarify: 0.55\n  margin: 0.06\nlanguage: ru\n"
    )


def test_write_thresholds_replaces_a_last_block_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("name: X\nthresholds:\n  answer: 0.9\n  margin: 0.1", encoding="utf-8")

    write_thresholds(path, Thresholds(0.7, 0.55, 0.06))

    assert path.read_text(encoding="utf-8") == (
        "name: X\nthresholds:\n  answer: 0.7\n  clarify: 0.55\n  margin: 0.06\n"
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("name: X\n", "name: X\nthresholds:\n  answer: 0.7\n  clarify: 0.55\n  margin: 0.06\n"),
        ("name: X", "name: X\nthresholds:\n  answer: 0.7\n  clarify: 0.55\n  margin: 0.06\n"),
        ("", "thresholds:\n  answer: 0.7\n  clarify: 0.55\n  margin: 0.06\n"),
    ],
)
def test_write_thresholds_appends_when_absent(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(before, encoding="utf-8")

    write_thresholds(path, Thresholds(0.7, 0.55, 0.06))

    assert path.read_text(encoding="utf-8") == after


def test_write_thresholds_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"

    write_thresholds(path, Thresholds(0.7, 0.55, 0.06))

    assert (
        path.read_text(encoding="utf-8")
        == "thresholds:\n  answer: 0.7\n  clarify: 0.55\n  margin: 0.06\n"
    )


def test_written_thresholds_load_back(small_kb_dir: Path) -> None:
    root = small_kb_dir
    (root / "bot.yaml").write_text(BOT_YAML, encoding="utf-8")

    write_thresholds(root / "bot.yaml", Thresholds(0.71, 0.52, 0.08))

    kb = load_knowledge_base(root)
    assert kb.config.thresholds == Thresholds(0.71, 0.52, 0.08)
    assert kb.topic("complaints").priority == 2


def test_kb_calibrate_without_eval_files_exits_1(small_kb_dir: Path) -> None:
    result = invoke(["kb", "calibrate", str(small_kb_dir)])

    assert result.exit_code == 1
    assert "нет файлов с примерами" in result.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_kb_calibrate_write_rewrites_only_the_thresholds_block(small_kb_dir: Path) -> None:
    root = small_kb_dir
    (root / "bot.yaml").write_text(BOT_YAML, encoding="utf-8")
    (root / "eval").mkdir()
    (root / "eval" / "cases.jsonl").write_text(SMALL_CASES, encoding="utf-8")

    result = invoke(["kb", "calibrate", str(root), "--write"])

    assert result.exit_code == 0
    chosen = re.search(r"выбрано: answer=([\d.]+) clarify=([\d.]+) margin=([\d.]+)", result.stdout)
    assert chosen is not None
    answer, clarify, margin = (float(v) for v in chosen.groups())
    assert f"записано в {root / 'bot.yaml'}" in result.stdout
    text = (root / "bot.yaml").read_text(encoding="utf-8")
    block = f"thresholds:\n  answer: {answer}\n  clarify: {clarify}\n  margin: {margin}\n"
    assert text == BOT_YAML.replace(
        "thresholds:\n  answer: 0.62\n  clarify: 0.5   # средняя полоса\n  margin: 0.04\n", block
    )
    assert load_knowledge_base(root).config.thresholds == Thresholds(answer, clarify, margin)
    report = json.loads(result.stdout.split("на всех примерах: ", 1)[1].splitlines()[0])
    assert list(report) == EVAL_CONTRACT
    assert report["wrong_answer_rate"] <= 0.03 and report["oos_answer_rate"] <= 0.05


@pytest.mark.slow
@pytest.mark.usefixtures("real_cli_env")
def test_kb_calibrate_without_write_leaves_bot_yaml_alone(
    small_kb_dir: Path, tmp_path: Path
) -> None:
    root = small_kb_dir
    (root / "bot.yaml").write_text(BOT_YAML, encoding="utf-8")
    cases = tmp_path / "cases.jsonl"
    cases.write_text(SMALL_CASES, encoding="utf-8")

    result = invoke(["kb", "calibrate", str(root), "--cases", str(cases)])

    assert result.exit_code == 0
    assert "выбрано: answer=" in result.stdout
    assert (root / "bot.yaml").read_text(encoding="utf-8") == BOT_YAML
