"""Spreadsheet import: CSV (UTF-8 and cp1251), XLSX, column detection, ids, reports, the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from voicebot.cli_import import import_command
from voicebot.errors import ImportFormatError
from voicebot.kb_import import (
    detect_columns,
    import_spreadsheet,
    parse_escalate,
    read_table,
    slugify,
    split_questions,
)
from voicebot.knowledge import ENTRY_ID_PATTERN, load_knowledge_base

ROWS = [
    ["id", "Тема", "Вопрос", "Ответ", "Оператор"],
    ["delivery-time", "Доставка", "Сколько идёт доставка?", "От одного до трёх дней.", "нет"],
    ["", "Доставка", "Можно ли доставить в выходные?", "Да, в субботу и воскресенье.", ""],
    ["", "Оплата", "Как оплатить картой?\nможно картой", "Картой на сайте или курьеру.", "да"],
    ["", "", "Где ваш офис?", "Москва, улица Ленина, 1.", "0"],
]


def write_csv(
    path: Path, rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    """Write rows as a CSV file the way a spreadsheet program would."""
    with path.open("w", encoding=encoding, newline="") as stream:
        csv.writer(stream, delimiter=delimiter).writerows(rows)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """Write an .xlsx workbook with the given sheets, in order."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def faq_yaml(root: Path) -> dict[str, list[dict[str, object]]]:
    """{file name: entries} of faq/*.yaml under root."""
    return {
        p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((root / "faq").glob("*.yaml"))
    }


# --- reading --------------------------------------------------------------------------


def test_read_utf8_csv(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", ROWS)
    assert read_table(path) == ROWS


def test_read_cp1251_semicolon_csv_with_commas_in_cells(tmp_path: Path) -> None:
    rows = [["Вопрос", "Ответ"], ["Как оплатить?", "Картой, наличными, переводом."]]
    path = write_csv(tmp_path / "faq.csv", rows, encoding="cp1251", delimiter=";")
    assert read_table(path) == rows


def test_read_utf8_bom_tab_separated(tmp_path: Path) -> None:
    rows = [["Вопрос", "Ответ"], ["Где офис?", "На Ленина, 1; вход со двора."]]
    path = write_csv(tmp_path / "faq.csv", rows, encoding="utf-8-sig", delimiter="\t")
    assert read_table(path) == rows


def test_read_xlsx_first_or_named_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "faq.xlsx",
        {
            "Инструкция": [["Заполните лист FAQ"]],
            "FAQ": [
                ["Вопрос", "Ответ", "Оператор"],
                ["Где офис?", "На Ленина.", True],
                [],
                [42, 1.0],
            ],
        },
    )
    assert read_table(path) == [["Заполните лист FAQ"]]
    assert read_table(path, "FAQ") == [
        ["Вопрос", "Ответ", "Оператор"],
        ["Где офис?", "На Ленина.", "да"],
        ["", "", ""],
        ["42", "1", ""],
    ]
    with pytest.raises(ImportFormatError, match=r"нет листа «Лист9».*«FAQ»"):
        read_table(path, "Лист9")


@pytest.mark.parametrize("name", ["faq.txt", "faq.xls", "faq"])
def test_unsupported_formats_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("Вопрос,Ответ\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="формат"):
        read_table(path)


def test_broken_xlsx_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "faq.xlsx"
    path.write_text("not a zip", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="XLSX"):
        read_table(path)


# --- columns and cells ----------------------------------------------------------------


def test_columns_in_russian_and_english_any_case() -> None:
    columns = detect_columns(
        ["ID", "Раздел", "Вопрос 1", "Вопрос №2", "Текст ответа", "Эскалация", "Название", "Автор"]
    )
    assert columns.id == 0
    assert columns.topic == 1
    assert columns.questions == (2, 3)
    assert columns.answer == 4
    assert columns.escalate == 5
    assert columns.title == 6
    english = detect_columns(["Questions", "ANSWER", "Category", "question_2"])
    assert english.questions == (0, 3)
    assert english.topic == 2


def test_missing_answer_column_names_the_columns_found() -> None:
    with pytest.raises(ImportFormatError, match=r"«ответ».*«Вопрос», «Комментарий»"):
        detect_columns(["Вопрос", "Комментарий"])


def test_split_questions_on_newlines_semicolons_and_bars() -> None:
    assert split_questions(["Как оплатить?\nоплата картой; оплата  по QR | Как оплатить?", ""]) == [
        "Как оплатить?",
        "оплата картой",
        "оплата по QR",
    ]


def test_escalate_values() -> None:
    for text in ["да", "Yes", "1", "TRUE", "ИСТИНА"]:
        assert parse_escalate(text) is True
    for text in ["нет", "no", "0", "false", "ЛОЖЬ", ""]:
        assert parse_escalate(text) is False
    assert parse_escalate("может быть") is None


def test_slug_is_transliterated_and_short() -> None:
    assert slugify("Как отследить заказ?") == "kak-otsledit-zakaz"
    assert slugify("Щёлково: где пункт выдачи №5?") == "shchelkovo-gde-punkt-vydachi-5"
    long = slugify("Можно ли вернуть товар надлежащего качества, если упаковка вскрыта?")
    assert len(long) <= 40
    assert ENTRY_ID_PATTERN.match(long)
    assert not long.endswith("-")


# --- import ---------------------------------------------------------------------------


def test_import_utf8_csv_writes_a_valid_knowledge_base(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "Магазин.csv", ROWS)
    target = tmp_path / "kb"
    report = import_spreadsheet(source, target)

    assert report.imported == 4
    assert report.skipped == []
    kb = load_knowledge_base(target)
    assert kb.config.name == "Магазин"
    assert kb.config.language == "ru"
    assert {name: t.title for name, t in kb.config.topics.items()} == {
        "dostavka": "Доставка",
        "oplata": "Оплата",
        "general": "Общие вопросы",
    }
    assert kb.entry("delivery-time").questions == ("Сколько идёт доставка?",)
    payment = kb.entry("kak-oplatit-kartoy")
    assert payment.questions == ("Как оплатить картой?", "можно картой")
    assert payment.escalate is True
    assert payment.topic == "oplata"
    assert kb.entry("gde-vash-ofis").topic == "general"
    assert sorted(faq_yaml(target)) == ["dostavka.yaml", "general.yaml", "oplata.yaml"]


def test_import_cp1251_semicolon_csv(tmp_path: Path) -> None:
    rows = [
        ["Категория", "Вопросы", "Ответ"],
        ["Гарантия", "Какой срок гарантии?;гарантия сколько", "Один год, на ноутбуки — два."],
    ]
    source = write_csv(tmp_path / "faq.csv", rows, encoding="cp1251", delimiter=";")
    report = import_spreadsheet(source, tmp_path / "kb")
    kb = load_knowledge_base(tmp_path / "kb")
    entry = kb.entries[0]
    assert report.imported == 1
    assert entry.questions == ("Какой срок гарантии?", "гарантия сколько")
    assert entry.answer == "Один год, на ноутбуки — два."
    assert kb.topic(entry.topic).title == "Гарантия"


def test_import_xlsx_with_several_question_columns_and_title_row(tmp_path: Path) -> None:
    source = write_xlsx(
        tmp_path / "faq.xlsx",
        {
            "Лист1": [["Ответы для бота, версия 3"]],
            "FAQ": [
                ["FAQ магазина"],
                ["Тема", "Вопрос", "Вопрос 2", "Ответ", "Название", "Оператор"],
                ["Возврат", "Как вернуть товар?", "хочу вернуть", "За 14 дней.", "возврат", False],
                ["Возврат", "Как вернуть деньги?", None, "На карту за 10 дней.", None, 1],
            ],
        },
    )
    report = import_spreadsheet(source, tmp_path / "kb", sheet="FAQ")
    kb = load_knowledge_base(tmp_path / "kb")
    assert report.imported == 2
    assert any("строка 1 до заголовка" in note for note in report.notes)
    first = kb.entry("kak-vernut-tovar")
    assert first.questions == ("Как вернуть товар?", "хочу вернуть")
    assert first.title == "возврат"
    assert first.escalate is False
    assert kb.entry("kak-vernut-dengi").escalate is True


def test_generated_ids_are_unique_and_respect_explicit_ones(tmp_path: Path) -> None:
    rows = [
        ["Вопрос", "Ответ", "id"],
        ["Как оплатить заказ банковской картой на сайте?", "Картой.", ""],
        ["Как оплатить заказ банковской картой на сайте курьеру?", "Курьеру.", ""],  # same slug
        ["Как оплатить заказ?", "Переводом.", "kak-oplatit-zakaz-bankovskoy-kartoy-na-2"],
        ["Как оплатить счёт?", "По QR.", "Оплата Счёта"],  # invalid id, slugified
    ]
    source = write_csv(tmp_path / "faq.csv", rows)
    report = import_spreadsheet(source, tmp_path / "kb")
    ids = [entry.id for entry in report.entries]
    assert ids == [
        "kak-oplatit-zakaz-bankovskoy-kartoy-na",
        "kak-oplatit-zakaz-bankovskoy-kartoy-na-3",
        "kak-oplatit-zakaz-bankovskoy-kartoy-na-2",
        "oplata-scheta",
    ]
    assert len(set(ids)) == len(ids)
    assert all(ENTRY_ID_PATTERN.match(i) for i in ids)
    assert any("«Оплата Счёта» записан как «oplata-scheta»" in note for note in report.notes)
    load_knowledge_base(tmp_path / "kb")


def test_bad_rows_are_skipped_and_reported_with_row_numbers(tmp_path: Path) -> None:
    rows = [
        ["id", "Вопрос", "Ответ", "Оператор"],
        ["", "Как оплатить?", "Картой.", "нет"],  # row 2: fine
        ["", "Где офис?", "", "нет"],  # row 3: empty answer
        ["", "", "Ответ без вопроса.", "нет"],  # row 4: no question
        ["", "", "", ""],  # row 5: empty, not data
        ["", "Есть доставка?", "Есть.", "может"],  # row 6: bad escalate value
        ["x", "Как вернуть?", "В течение 14 дней.", ""],  # row 7: fine
        ["x", "Как обменять?", "В магазине.", ""],  # row 8: duplicate id
        ["", "как оплатить", "Другой ответ.", ""],  # row 9: question already in row 2
    ]
    report = import_spreadsheet(write_csv(tmp_path / "faq.csv", rows), tmp_path / "kb")
    assert report.imported == 2
    assert [str(s) for s in report.skipped] == [
        "строка 3: пустой ответ",
        "строка 4: нет ни одного вопроса",
        "строка 6: непонятное значение «может» в столбце «оператор» (нужно да или нет)",
        "строка 8: id «x» уже есть в строке 7",
        "строка 9: все вопросы строки уже есть в других строках",
    ]
    assert report.empty_rows == 1
    assert report.data_rows == report.imported + len(report.skipped)
    summary = "\n".join(report.summary_lines())
    assert "Импортировано 2 записи в 1 теме" in summary
    assert "Пропущено 5 строк:" in summary
    assert "строка 3: пустой ответ" in summary


def test_nothing_importable_is_an_error(tmp_path: Path) -> None:
    rows = [["Вопрос", "Ответ"], ["Где офис?", ""]]
    with pytest.raises(ImportFormatError, match=r"ни одна строка.*строка 2: пустой ответ"):
        import_spreadsheet(write_csv(tmp_path / "faq.csv", rows), tmp_path / "kb")
    assert not (tmp_path / "kb").exists()


def test_missing_answer_column_is_an_error(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "faq.csv", [["Тема", "Вопрос"], ["Оплата", "Как оплатить?"]])
    with pytest.raises(ImportFormatError, match=r"«ответ».*«Тема», «Вопрос»"):
        import_spreadsheet(source, tmp_path / "kb")


def test_refuses_to_overwrite_existing_faq_unless_replace(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    import_spreadsheet(write_csv(tmp_path / "old.csv", ROWS), target)
    before = faq_yaml(target)
    new = write_csv(tmp_path / "new.csv", [["Вопрос", "Ответ"], ["Новый вопрос?", "Новый ответ."]])

    with pytest.raises(ImportFormatError, match="--replace"):
        import_spreadsheet(new, target)
    assert faq_yaml(target) == before

    report = import_spreadsheet(new, target, replace=True)
    assert report.imported == 1
    assert sorted(faq_yaml(target)) == ["general.yaml"]
    assert [e.id for e in load_knowledge_base(target).entries] == ["novyy-vopros"]


def test_keeps_existing_bot_yaml_and_adds_missing_topics(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    target.mkdir()
    (target / "bot.yaml").write_text(
        "name: ТехноМаркет\n"
        "greeting: Здравствуйте, это ТехноМаркет!\n"
        "thresholds: {answer: 0.7}\n"
        "topics:\n"
        "  delivery: {title: Доставка, priority: 1}\n",
        encoding="utf-8",
    )
    rows = [
        ["Тема", "Вопрос", "Ответ"],
        ["доставка", "Сколько идёт доставка?", "Три дня."],
        ["Оплата", "Как оплатить?", "Картой."],
    ]
    report = import_spreadsheet(write_csv(tmp_path / "faq.csv", rows), target)
    kb = load_knowledge_base(target)
    assert report.new_topics == ["oplata"]
    assert kb.config.name == "ТехноМаркет"
    assert kb.config.greeting == "Здравствуйте, это ТехноМаркет!"
    assert kb.config.thresholds.answer == 0.7
    assert kb.config.topics["delivery"].priority == 1
    assert kb.config.topics["oplata"].title == "Оплата"
    assert kb.entry("skolko-idet-dostavka").topic == "delivery"


def test_existing_bot_yaml_untouched_when_no_topic_is_new(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    target.mkdir()
    text = "# edited by hand\nname: Магазин\ntopics: [general]\n"
    (target / "bot.yaml").write_text(text, encoding="utf-8")
    source = write_csv(tmp_path / "faq.csv", [["Вопрос", "Ответ"], ["Кто вы?", "Магазин."]])
    import_spreadsheet(source, target)
    assert (target / "bot.yaml").read_text(encoding="utf-8") == text
    load_knowledge_base(target)


# --- CLI ------------------------------------------------------------------------------


def test_cli_prints_a_russian_summary(tmp_path: Path) -> None:
    rows = [*ROWS, ["", "", "", "Ответ без вопроса.", ""]]
    source = write_csv(tmp_path / "faq.csv", rows)
    result = CliRunner().invoke(import_command, [str(source), "--to", str(tmp_path / "kb")])
    assert result.exit_code == 0, result.output
    assert "Импортировано 4 записи в 3 темах" in result.output
    assert "Темы: dostavka «Доставка» (2), oplata «Оплата» (1), general «Общие вопросы» (1)" in (
        result.output
    )
    assert "Пропущено 1 строка:" in result.output
    assert "строка 6: нет ни одного вопроса" in result.output


def test_cli_xlsx_sheet_option(tmp_path: Path) -> None:
    source = write_xlsx(
        tmp_path / "faq.xlsx",
        {"Пусто": [["x"]], "FAQ": [["Question", "Answer"], ["Where is the office?", "Lenina 1."]]},
    )
    result = CliRunner().invoke(
        import_command, [str(source), "--to", str(tmp_path / "kb"), "--sheet", "FAQ"]
    )
    assert result.exit_code == 0, result.output
    assert "Импортировано 1 запись в 1 теме" in result.output


def test_cli_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "faq.csv", [["Вопрос", "Комментарий"], ["Где офис?", "-"]])
    result = CliRunner().invoke(import_command, [str(source), "--to", str(tmp_path / "kb")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("Ошибка импорта: не найдены обязательные столбцы")
    assert "Traceback" not in result.output


def test_cli_refuses_to_overwrite(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "faq.csv", ROWS)
    target = tmp_path / "kb"
    runner = CliRunner()
    assert runner.invoke(import_command, [str(source), "--to", str(target)]).exit_code == 0
    again = runner.invoke(import_command, [str(source), "--to", str(target)])
    assert again.exit_code == 1
    assert "--replace" in again.output
    replaced = runner.invoke(import_command, [str(source), "--to", str(target), "--replace"])
    assert replaced.exit_code == 0, replaced.output
