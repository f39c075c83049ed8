"""Import an FAQ knowledge base from a spreadsheet (CSV or XLSX).

Editors keep FAQs in spreadsheets: one row per entry, a header row naming the
columns in Russian or English. Every data row is either imported or reported as
skipped with its row number and a reason; messages are in Russian.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicebot.errors import ImportFormatError, KnowledgeBaseError
from voicebot.knowledge import (
    DEFAULT_TOPIC,
    ENTRY_ID_PATTERN,
    FaqEntry,
    KnowledgeBase,
    load_knowledge_base,
    question_key,
    write_knowledge_base,
)

CSV_ENCODINGS = ("utf-8", "utf-8-sig", "cp1251")
CSV_DELIMITERS = (",", ";", "\t")
SLUG_MAX_LENGTH = 40
HEADER_SEARCH_ROWS = 10

# Header names per field, normalised (lowercase, ё -> е, no digits or punctuation).
COLUMN_NAMES: dict[str, frozenset[str]] = {
    "id": frozenset({"id", "ид", "идентификатор", "код", "key", "ключ"}),
    "topic": frozenset(
        {
            "topic",
            "тема",
            "категория",
            "раздел",
            "category",
            "section",
            "группа",
            "очередь",
            "название темы",
            "тема вопроса",
        }
    ),
    "question": frozenset(
        {
            "question",
            "questions",
            "вопрос",
            "вопросы",
            "формулировка",
            "формулировки",
            "вариант вопроса",
            "варианты вопроса",
            "варианты",
            "paraphrases",
            "paraphrase",
            "вопрос клиента",
            "вопросы клиентов",
        }
    ),
    "answer": frozenset({"answer", "ответ", "текст ответа", "reply", "response"}),
    "escalate": frozenset(
        {
            "escalate",
            "escalation",
            "operator",
            "оператор",
            "эскалация",
            "перевод на оператора",
            "на оператора",
            "соединить с оператором",
        }
    ),
    "title": frozenset({"title", "название", "заголовок", "name"}),
}
FIELD_LABELS = {
    "id": "id",
    "topic": "тема",
    "question": "вопрос",
    "answer": "ответ",
    "escalate": "оператор",
    "title": "название",
}
TRUE_VALUES = frozenset({"да", "yes", "y", "1", "true", "истина", "+"})
FALSE_VALUES = frozenset({"нет", "no", "n", "0", "false", "ложь", "-", ""})
QUESTION_SEPARATORS = re.compile(r"[\n;|]")

_TRANSLIT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "№": " ",
    "і": "i",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
}


@dataclass(frozen=True)
class SkippedRow:
    """A data row that was not imported, and why."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"строка {self.row}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: counts, skipped rows with reasons, notes for the editor."""

    source: Path
    target: Path
    data_rows: int = 0
    empty_rows: int = 0
    entries: list[FaqEntry] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)
    new_topics: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    config_created: bool = True

    @property
    def imported(self) -> int:
        """Number of entries written."""
        return len(self.entries)

    def summary_lines(self) -> list[str]:
        """The report in Russian, one line per fact, for the terminal."""
        lines = [
            f"Импортировано {_plural(self.imported, 'запись', 'записи', 'записей')} "
            f"в {_plural(len(self.topics), 'теме', 'темах', 'темах')} -> {self.target}"
        ]
        counts: dict[str, int] = {}
        for entry in self.entries:
            counts[entry.topic] = counts.get(entry.topic, 0) + 1
        topics = (
            f"{name} «{title}» ({counts.get(name, 0)})" for name, title in self.topics.items()
        )
        lines.append("Темы: " + ", ".join(topics))
        if self.new_topics and not self.config_created:
            lines.append("В bot.yaml добавлены темы: " + ", ".join(self.new_topics))
        if self.skipped:
            lines.append(f"Пропущено {_plural(len(self.skipped), 'строка', 'строки', 'строк')}:")
            lines.extend(f"  {skipped}" for skipped in self.skipped)
        else:
            lines.append("Пропущенных строк нет.")
        if self.empty_rows:
            lines.append(f"Пустых строк (без данных): {self.empty_rows}")
        if self.notes:
            lines.append("Замечания:")
            lines.extend(f"  {note}" for note in self.notes)
        if self.warnings:
            lines.append("Предупреждения проверки базы знаний:")
            lines.extend(f"  {warning}" for warning in self.warnings)
        return lines


# --- reading tables -------------------------------------------------------------------


def read_table(path: Path, sheet: str | None = None) -> list[list[str]]:
    """Rows of a .csv or .xlsx file as lists of cell strings (empty cells are "")."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"файл {path} не найден")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if sheet is not None:
            raise ImportFormatError("лист (--sheet) можно указать только для файлов .xlsx")
        return _read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    if suffix == ".xls":
        raise ImportFormatError(
            f"{path.name}: старый формат .xls не поддерживается, "
            "сохраните таблицу как .xlsx или .csv"
        )
    raise ImportFormatError(
        f"{path.name}: неподдерживаемый формат «{suffix or 'без расширения'}», нужен .csv или .xlsx"
    )


def _read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    text = _decode(data, path)
    delimiter = _sniff_delimiter(text)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFormatError(f"{path.name}: не удалось разобрать CSV: {exc}") from exc
    return [[_clean_cell(cell) for cell in row] for row in rows]


def _decode(data: bytes, path: Path) -> str:
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff")
    raise ImportFormatError(
        f"{path.name}: не удалось определить кодировку, сохраните файл в UTF-8 или Windows-1251"
    )


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header into the most columns (ties: , then ; then tab)."""
    sample = text[:65536]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(CSV_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ""
    best, best_width = ",", 1
    for delimiter in CSV_DELIMITERS:
        try:
            header = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), [])
        except csv.Error:
            continue
        width = len(header)
        if width > best_width or (width == best_width and delimiter == sniffed):
            best, best_width = delimiter, width
    return best


def _read_xlsx(path: Path, sheet: str | None) -> list[list[str]]:
    import openpyxl  # imported here: only imports need it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFormatError(f"{path.name}: файл не читается как таблица XLSX ({exc})") from exc
    try:
        if sheet is None:
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            names = ", ".join(f"«{name}»" for name in workbook.sheetnames)
            raise ImportFormatError(f"{path.name}: нет листа «{sheet}» (есть: {names})")
        return [
            [_clean_cell(_cell_text(value)) for value in row]
            for row in worksheet.iter_rows(values_only=True)
        ]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _clean_cell(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").strip()


# --- columns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Where each field sits in the table (0-based column indexes)."""

    questions: tuple[int, ...]
    answer: int
    id: int | None = None
    topic: int | None = None
    escalate: int | None = None
    title: int | None = None


def normalize_header(text: str) -> str:
    """A header cell reduced for matching: lowercase, ё -> е, no digits, № or punctuation."""
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[\d№#_\W]+", " ", text)
    return " ".join(text.split())


def header_field(text: str) -> str | None:
    """Which field a header cell names (id, topic, question, answer, escalate, title), if any."""
    name = normalize_header(text)
    if not name:
        return None
    words = name.split()
    for candidate in (name, words[0]):
        for field_name, names in COLUMN_NAMES.items():
            if candidate in names:
                return field_name
    return None


def detect_columns(header: Sequence[str]) -> Columns:
    """Map a header row to Columns; ImportFormatError if questions or answers are missing."""
    found: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        field_name = header_field(cell)
        if field_name is not None:
            found.setdefault(field_name, []).append(index)
    missing = [FIELD_LABELS[name] for name in ("question", "answer") if name not in found]
    if missing:
        present = ", ".join(f"«{cell}»" for cell in header if cell) or "нет ни одного"
        raise ImportFormatError(
            "не найдены обязательные столбцы: "
            + ", ".join(f"«{label}»" for label in missing)
            + f"; столбцы в файле: {present}"
        )
    for name, indexes in found.items():
        if name != "question" and len(indexes) > 1:
            cells = ", ".join(f"«{header[i]}»" for i in indexes)
            raise ImportFormatError(f"столбец «{FIELD_LABELS[name]}» указан несколько раз: {cells}")

    def single(name: str) -> int | None:
        return found[name][0] if name in found else None

    return Columns(
        questions=tuple(found["question"]),
        answer=found["answer"][0],
        id=single("id"),
        topic=single("topic"),
        escalate=single("escalate"),
        title=single("title"),
    )


def _find_header(rows: Sequence[Sequence[str]]) -> tuple[int, Columns]:
    """Index of the header row (first of the leading rows naming questions and answers)."""
    first_error: ImportFormatError | None = None
    seen = 0
    for index, row in enumerate(rows):
        if not any(row):
            continue
        try:
            return index, detect_columns(row)
        except ImportFormatError as exc:
            first_error = first_error or exc
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    if first_error is None:
        raise ImportFormatError("таблица пуста: нет ни строки заголовков, ни данных")
    raise first_error


# --- slugs ----------------------------------------------------------------------------


def transliterate(text: str) -> str:
    """Russian (and other accented) letters to plain Latin ones, lowercase."""
    out: list[str] = []
    for char in text.lower():
        if char in _TRANSLIT:
            out.append(_TRANSLIT[char])
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


def slugify(text: str, max_length: int = SLUG_MAX_LENGTH) -> str:
    """A lowercase [a-z0-9-] slug, cut at a word boundary to at most max_length characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", transliterate(text)).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        boundary = cut.rfind("-")
        slug = cut[:boundary] if boundary > 0 else slug[:max_length]
    return slug.strip("-")


def unique_slug(base: str, taken: set[str]) -> str:
    """base, or base-2, base-3 ... whichever is not taken yet; the result is added to taken."""
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
    taken.add(candidate)
    return candidate


def split_questions(cells: Iterable[str]) -> list[str]:
    """Questions from cells holding one or several, separated by newlines, ';' or '|'."""
    questions: list[str] = []
    keys: set[str] = set()
    for cell in cells:
        for part in QUESTION_SEPARATORS.split(cell):
            question = " ".join(part.split())
            key = question_key(question)
            if key and key not in keys:
                keys.add(key)
                questions.append(question)
    return questions


def parse_escalate(text: str) -> bool | None:
    """да/нет, yes/no, 1/0, true/false (empty = no); None when the value is not one of them."""
    value = text.strip().lower().rstrip(".")
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    return None


# --- rows -> entries ------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    questions: list[str]
    answer: str
    topic_text: str
    escalate: bool
    title: str
    given_id: str


def rows_to_entries(
    rows: Sequence[Sequence[str]],
    report: ImportReport,
    known_topics: dict[str, str] | None = None,
) -> list[FaqEntry]:
    """Turn table rows (header included) into entries; record skipped rows and notes in report."""
    header_index, columns = _find_header(rows)
    if header_index:
        report.notes.append(
            f"строки 1–{header_index} до заголовка не считаются данными"
            if header_index > 1
            else "строка 1 до заголовка не считается данными"
        )
    header = rows[header_index]
    used = set(columns.questions) | {
        i
        for i in (columns.answer, columns.id, columns.topic, columns.escalate, columns.title)
        if i is not None
    }
    ignored = [cell for i, cell in enumerate(header) if cell and i not in used]
    if ignored:
        report.notes.append("не используются столбцы: " + ", ".join(f"«{c}»" for c in ignored))

    parsed: list[_Row] = []
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        number = index + 1
        if not any(row):
            report.empty_rows += 1
            continue
        report.data_rows += 1
        item = _parse_row(row, number, columns, report)
        if item is not None:
            parsed.append(item)

    return _build_entries(parsed, report, known_topics or {})


def _cell(row: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index]


def _parse_row(
    row: Sequence[str], number: int, columns: Columns, report: ImportReport
) -> _Row | None:
    problems: list[str] = []
    questions = split_questions(_cell(row, i) for i in columns.questions)
    answer = _cell(row, columns.answer).strip()
    if not questions:
        problems.append("нет ни одного вопроса")
    if not answer:
        problems.append("пустой ответ")
    raw_escalate = _cell(row, columns.escalate)
    escalate = parse_escalate(raw_escalate)
    if escalate is None:
        problems.append(
            f"непонятное значение «{raw_escalate}» в столбце «оператор» (нужно да или нет)"
        )
    if problems:
        report.skipped.append(SkippedRow(number, "; ".join(problems)))
        return None
    return _Row(
        number=number,
        questions=questions,
        answer=answer,
        topic_text=" ".join(_cell(row, columns.topic).split()),
        escalate=bool(escalate),
        title=" ".join(_cell(row, columns.title).split()),
        given_id=_cell(row, columns.id).strip(),
    )


def _build_entries(
    rows: list[_Row], report: ImportReport, known_topics: dict[str, str]
) -> list[FaqEntry]:
    """Assign ids and topics, drop questions already owned by an earlier row."""
    # Explicit ids first, so generated ones never take an id a later row asks for.
    id_rows: dict[str, int] = {}
    explicit: dict[int, str] = {}
    for item in rows:
        if not item.given_id:
            continue
        entry_id = _normalized_id(item.given_id)
        if not entry_id:
            report.notes.append(
                f"строка {item.number}: id «{item.given_id}» не годится, будет создан автоматически"
            )
            continue
        if entry_id != item.given_id:
            report.notes.append(
                f"строка {item.number}: id «{item.given_id}» записан как «{entry_id}»"
            )
        if entry_id in id_rows:
            continue  # reported as a duplicate below, in row order
        id_rows[entry_id] = item.number
        explicit[item.number] = entry_id

    taken = set(id_rows)
    question_rows: dict[str, int] = {}
    topic_by_key = {_topic_key(title): name for name, title in known_topics.items()}
    topic_by_key.update({_topic_key(name): name for name in known_topics})
    entries: list[FaqEntry] = []
    for item in rows:
        given = explicit.get(item.number)
        if item.given_id and given is None:
            entry_id = _normalized_id(item.given_id)
            if entry_id in id_rows:
                report.skipped.append(
                    SkippedRow(
                        item.number, f"id «{entry_id}» уже есть в строке {id_rows[entry_id]}"
                    )
                )
                continue
        questions: list[str] = []
        for question in item.questions:
            key = question_key(question)
            owner = question_rows.get(key)
            if owner is None:
                questions.append(question)
            else:
                report.notes.append(
                    f"строка {item.number}: вопрос «{question}» уже есть в строке {owner}, убран"
                )
        if not questions:
            report.skipped.append(
                SkippedRow(item.number, "все вопросы строки уже есть в других строках")
            )
            continue
        for question in questions:
            question_rows[question_key(question)] = item.number
        if given is None:
            base = slugify(questions[0]) or "entry"
            given = unique_slug(base, taken)
        topic = _topic_for(item.topic_text, topic_by_key, report)
        entries.append(
            FaqEntry(
                id=given,
                topic=topic,
                questions=tuple(questions),
                answer=item.answer,
                escalate=item.escalate,
                title=item.title,
                line=item.number,
            )
        )
    return entries


def _normalized_id(given: str) -> str:
    """An id from the id column, made valid (slugified) when it is not."""
    return given if ENTRY_ID_PATTERN.match(given) else slugify(given)


def _topic_key(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def _topic_for(text: str, topic_by_key: dict[str, str], report: ImportReport) -> str:
    """The topic name for a topic cell: an existing topic, or a new slug (general when empty)."""
    if not text:
        name = topic_by_key.get(DEFAULT_TOPIC, DEFAULT_TOPIC)
        report.topics.setdefault(name, "Общие вопросы")
        return name
    key = _topic_key(text)
    slug = slugify(text)
    name = topic_by_key.get(key) or topic_by_key.get(slug) or slug or DEFAULT_TOPIC
    topic_by_key.setdefault(key, name)
    report.topics.setdefault(name, text)
    return name


# --- writing the knowledge base -------------------------------------------------------


def import_spreadsheet(
    file: Path, to: Path, *, replace: bool = False, sheet: str | None = None
) -> ImportReport:
    """Import a CSV/XLSX FAQ into the knowledge-base directory `to`; validate what was written."""
    file, to = Path(file), Path(to)
    if to.exists() and not to.is_dir():
        raise ImportFormatError(f"{to} — это файл, а нужна папка базы знаний")
    existing_faq = _faq_files(to)
    if existing_faq and not replace:
        raise ImportFormatError(
            f"в {to} уже есть файлы FAQ ({len(existing_faq)}); "
            "чтобы заменить их, повторите с --replace"
        )
    report = ImportReport(source=file, target=to)
    rows = read_table(file, sheet)
    bot_path = to / "bot.yaml"
    bot_data = _read_bot_yaml(bot_path) if bot_path.exists() else None
    known_topics = _topic_titles(bot_data.get("topics") if bot_data else None)
    entries = rows_to_entries(rows, report, known_topics)
    report.entries = entries
    if not entries:
        reasons = "; ".join(str(s) for s in report.skipped[:3])
        more = f" и ещё {len(report.skipped) - 3}" if len(report.skipped) > 3 else ""
        raise ImportFormatError(
            f"{file.name}: ни одна строка не импортирована"
            + (f" ({reasons}{more})" if reasons else " (нет строк с данными)")
        )

    config, new_topics = _config_mapping(bot_data, file, report.topics, known_topics)
    report.new_topics = new_topics
    report.config_created = bot_data is None
    used_topics = {entry.topic for entry in entries}
    report.topics = {name: title for name, title in report.topics.items() if name in used_topics}

    with tempfile.TemporaryDirectory(prefix="kb-import-") as tmp:
        staging = Path(tmp)
        write_knowledge_base(staging, entries, config)
        _validate(staging, file)
        to.mkdir(parents=True, exist_ok=True)
        for old in existing_faq:
            old.unlink()
        (to / "faq").mkdir(exist_ok=True)
        written: list[Path] = []
        if bot_data is None or new_topics:
            shutil.copyfile(staging / "bot.yaml", bot_path)
            written.append(bot_path)
        for path in sorted((staging / "faq").glob("*.yaml")):
            target = to / "faq" / path.name
            shutil.copyfile(path, target)
            written.append(target)
    report.files = written
    knowledge_base = _validate(to, file)
    report.warnings = [str(problem) for problem in knowledge_base.warnings]
    return report


def _faq_files(root: Path) -> list[Path]:
    faq_dir = root / "faq"
    if not faq_dir.is_dir():
        return []
    return sorted(faq_dir.glob("*.yaml")) + sorted(faq_dir.glob("*.yml"))


def _read_bot_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path}: не удалось прочитать bot.yaml ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ImportFormatError(f"{path}: bot.yaml должен быть словарём полей")
    return data


def _topic_titles(raw: Any) -> dict[str, str]:
    """{name: title} of bot.yaml's topics (a list of names or a mapping)."""
    if isinstance(raw, list):
        return {str(name): str(name) for name in raw}
    if isinstance(raw, dict):
        titles: dict[str, str] = {}
        for name, settings in raw.items():
            title = settings.get("title") if isinstance(settings, dict) else None
            titles[str(name)] = str(title or name)
        return titles
    return {}


def _config_mapping(
    bot_data: dict[str, Any] | None,
    file: Path,
    topics: dict[str, str],
    known_topics: dict[str, str],
) -> tuple[dict[str, Any], list[str]]:
    """bot.yaml content: the existing one plus missing topics, or a new minimal one."""
    new_topics = [name for name in topics if name not in known_topics]
    if bot_data is None:
        config: dict[str, Any] = {"name": file.stem, "language": "ru", "topics": {}}
    else:
        config = dict(bot_data)
        raw = config.get("topics")
        if isinstance(raw, dict):
            config["topics"] = dict(raw)
        elif isinstance(raw, list):
            config["topics"] = {str(name): {"title": str(name)} for name in raw}
        else:
            config["topics"] = {}
    for name in new_topics:
        config["topics"][name] = {"title": topics[name]}
    return config, new_topics


def _validate(root: Path, file: Path) -> KnowledgeBase:
    try:
        return load_knowledge_base(root)
    except KnowledgeBaseError as exc:
        details = "; ".join(exc.problems[:3])
        more = f" и ещё {len(exc.problems) - 3}" if len(exc.problems) > 3 else ""
        raise ImportFormatError(
            f"{file.name}: импорт дал неверную базу знаний: {details}{more}"
        ) from exc


def _plural(count: int, one: str, few: str, many: str) -> str:
    """Count with the Russian noun form: 1 запись, 2 записи, 5 записей."""
    tail = count % 100
    if 11 <= tail <= 14:
        word = many
    elif count % 10 == 1:
        word = one
    elif 2 <= count % 10 <= 4:
        word = few
    else:
        word = many
    return f"{count} {word}"
