"""FAQ knowledge bases: the data model, loading and validation of a directory, writing one back.

Problems are reported in Russian (editors read them), each with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from voicebot.errors import KnowledgeBaseError
from voicebot.schedule import parse_schedule

ENTRY_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ENTRY_KEYS = {"id", "topic", "title", "questions", "answer", "escalate"}
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
DEFAULT_TOPIC = "general"


@dataclass(frozen=True)
class FaqEntry:
    """One question the bot can answer, with the ways callers ask it."""

    id: str
    topic: str
    questions: tuple[str, ...]
    answer: str
    escalate: bool = False
    title: str = ""
    source: str = ""
    line: int = 0

    @property
    def spoken_title(self) -> str:
        """How the bot names this entry in a clarifying question."""
        return self.title or self.questions[0]

    @property
    def location(self) -> str:
        """`file:line` of the entry, for messages."""
        return f"{self.source}:{self.line}" if self.source else self.id


@dataclass(frozen=True)
class Topic:
    """An operator queue: escalations of this topic go there."""

    name: str
    title: str
    priority: int = 0
    urgent: bool = False  # its callers go ahead in the queue (e.g. outages, emergencies)


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the fused score (0..1); calibrated with `voicebot kb calibrate`."""

    answer: float = 0.62
    clarify: float = 0.50
    margin: float = 0.04


@dataclass(frozen=True)
class Prompts:
    """Fixed phrases the bot says (Russian)."""

    anything_else: str = "Могу ещё чем-то помочь?"
    listening: str = "Слушаю вас."
    clarify: str = "Вы имеете в виду {first} или {second}?"
    clarify_again: str = "Скажите, пожалуйста, что из этого вам нужно, или скажите «оператор»."
    not_understood: str = "Извините, я не совсем поняла. Скажите, пожалуйста, другими словами."
    transfer: str = "Соединяю вас со специалистом, пожалуйста, оставайтесь на линии."
    goodbye: str = "Спасибо за звонок, всего доброго!"
    apology: str = "Извините, у меня техническая заминка. Соединяю вас со специалистом."
    are_you_there: str = "Вы меня слышите?"
    silence_goodbye: str = "Вас не слышно. Пожалуйста, перезвоните нам. Всего доброго!"
    # The operator queue: {wait} is a wait phrase such as «Ожидание около двух минут.»
    queue_joined: str = (
        "{wait} Если удобнее, мы перезвоним: нажмите единицу или скажите «перезвоните»."
    )
    queue_still_waiting: str = "Вы по-прежнему на линии, оператор скоро ответит. {wait}"
    operator_found: str = "Оператор на линии, соединяю."
    callback_confirmed: str = "Хорошо, оператор перезвонит вам на этот номер. Всего доброго!"
    closed_now: str = "Сейчас операторы не работают."
    # The post-call rating (bot.yaml `post_call_rating: true`).
    rating_question: str = (
        "Оцените, пожалуйста, разговор: нажмите цифру от одного до пяти, где пять — отлично."
    )
    rating_thanks: str = "Спасибо за оценку! Всего доброго!"
    closed_offer: str = (
        "{hours} Хотите, чтобы оператор перезвонил вам в рабочее время? "
        "Скажите «да» или нажмите единицу."
    )


@dataclass(frozen=True)
class BotConfig:
    """Settings of one hotline from bot.yaml; every field has a default."""

    name: str = "Горячая линия"
    language: str = "ru"
    greeting: str = "Здравствуйте! Чем могу помочь?"
    prompts: Prompts = field(default_factory=Prompts)
    topics: Mapping[str, Topic] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    working_hours: Mapping[str, Any] = field(default_factory=dict)
    holidays: tuple[Any, ...] = ()  # dates or {date, hours} mappings (voicebot.schedule)
    post_call_rating: bool = False  # ask callers the bot served for a 1-5 rating


@dataclass(frozen=True)
class Problem:
    """One finding of validation."""

    severity: Literal["error", "warning"]
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        label = "ошибка" if self.severity == "error" else "предупреждение"
        return f"{where}: {label}: {self.message}"


@dataclass(frozen=True)
class KnowledgeBase:
    """A loaded, valid knowledge base."""

    config: BotConfig
    entries: tuple[FaqEntry, ...]
    root: Path | None = None
    warnings: tuple[Problem, ...] = ()
    # Questions that are not this hotline's business (out_of_scope.yaml): never answered.
    out_of_scope: tuple[str, ...] = ()

    def entry(self, entry_id: str) -> FaqEntry:
        """The entry with this id (KeyError if absent)."""
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    def topic(self, name: str) -> Topic:
        """The topic of this name, or a plain one when the config does not list it."""
        return self.config.topics.get(name) or Topic(name=name, title=name)


# --- loading -------------------------------------------------------------------------


def question_key(text: str) -> str:
    """A question compared for sameness: lowercase, ё as е, no punctuation, single spaces."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower().replace("ё", "е")).split())


def load_knowledge_base(root: Path) -> KnowledgeBase:
    """Load and validate a knowledge-base directory; raise KnowledgeBaseError listing every error."""
    entries, problems, config, out_of_scope = _read_directory(root)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise KnowledgeBaseError(
            f"база знаний {root} содержит ошибки: {len(errors)}", [str(p) for p in errors]
        )
    return KnowledgeBase(
        config=config,
        entries=tuple(entries),
        root=root,
        warnings=tuple(p for p in problems if p.severity == "warning"),
        out_of_scope=tuple(out_of_scope),
    )


def check_knowledge_base(root: Path) -> list[Problem]:
    """Every problem of a knowledge-base directory, errors and warnings, without raising."""
    return _read_directory(root)[1]


def _read_directory(root: Path) -> tuple[list[FaqEntry], list[Problem], BotConfig, list[str]]:
    problems: list[Problem] = []
    if not root.is_dir():
        problems.append(Problem("error", str(root), 0, "папка базы знаний не найдена"))
        return [], problems, BotConfig(), []
    config = _read_bot_config(root / "bot.yaml", problems)
    faq_dir = root / "faq"
    files = sorted(faq_dir.glob("*.yaml")) + sorted(faq_dir.glob("*.yml"))
    if not files:
        problems.append(Problem("error", "faq", 0, "нет ни одного файла faq/*.yaml"))
    entries: list[FaqEntry] = []
    for path in files:
        entries.extend(_read_faq_file(path, root, problems))
    problems.extend(validate_entries(entries, config))
    out_of_scope = _read_out_of_scope(root / OUT_OF_SCOPE_FILE, entries, problems)
    return entries, problems, config, out_of_scope


def _read_out_of_scope(path: Path, entries: list[FaqEntry], problems: list[Problem]) -> list[str]:
    """Examples of questions the hotline does not serve; optional file."""
    if not path.exists():
        return []
    parsed = _parse_yaml(path, path.name, problems)
    if parsed is None:
        return []
    data = parsed[0] or {}
    raw = data.get("examples") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        problems.append(Problem("error", path.name, 1, "нужен список examples: [...]"))
        return []
    own = {question_key(q): e for e in entries for q in e.questions}
    examples: list[str] = []
    for number, item in enumerate(raw, start=1):
        text = str(item or "").strip()
        if not text:
            problems.append(Problem("error", path.name, 0, f"пример №{number} пустой"))
        elif question_key(text) in own:
            entry = own[question_key(text)]
            problems.append(
                Problem(
                    "error",
                    path.name,
                    0,
                    f"пример «{text}» совпадает с вопросом записи «{entry.id}» ({entry.location})",
                )
            )
        else:
            examples.append(text)
    return examples


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _parse_yaml(path: Path, source: str, problems: list[Problem]) -> tuple[Any, Any] | None:
    """(data, node) of a YAML file, or None with a problem recorded."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        problems.append(Problem("error", source, 0, "файл не в кодировке UTF-8"))
        return None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        problems.append(Problem("error", source, line, f"неверный YAML: {exc.problem}"))
        return None
    return data, node


def _read_bot_config(path: Path, problems: list[Problem]) -> BotConfig:
    source = path.name
    if not path.exists():
        problems.append(Problem("error", source, 0, "нет файла bot.yaml"))
        return BotConfig()
    parsed = _parse_yaml(path, source, problems)
    if parsed is None:
        return BotConfig()
    data = parsed[0] or {}
    if not isinstance(data, dict):
        problems.append(Problem("error", source, 1, "bot.yaml должен быть словарём полей"))
        return BotConfig()
    return bot_config_from_mapping(data, source, problems)


def bot_config_from_mapping(
    data: Mapping[str, Any], source: str, problems: list[Problem]
) -> BotConfig:
    """Build a BotConfig from bot.yaml's mapping, recording problems, defaulting what is absent."""
    defaults = BotConfig()
    topics = _read_topics(data.get("topics"), source, problems)
    prompts = Prompts()
    raw_prompts = data.get("prompts") or {}
    if isinstance(raw_prompts, dict):
        known = set(Prompts.__dataclass_fields__)
        for key in sorted(set(raw_prompts) - known):
            problems.append(Problem("warning", source, 0, f"неизвестная фраза prompts.{key}"))
        prompts = replace(prompts, **{k: str(v) for k, v in raw_prompts.items() if k in known})
    else:
        problems.append(Problem("error", source, 0, "prompts должен быть словарём"))
    thresholds = Thresholds()
    raw_thresholds = data.get("thresholds") or {}
    if isinstance(raw_thresholds, dict):
        try:
            thresholds = replace(
                thresholds,
                **{
                    k: float(v)
                    for k, v in raw_thresholds.items()
                    if k in Thresholds.__dataclass_fields__
                },
            )
        except (TypeError, ValueError):
            problems.append(Problem("error", source, 0, "пороги thresholds должны быть числами"))
    working_hours = data.get("working_hours") or {}
    if not isinstance(working_hours, dict):
        problems.append(Problem("error", source, 0, "working_hours должен быть словарём полей"))
        working_hours = {}
    holidays = data.get("holidays") or ()
    if not isinstance(holidays, list | tuple):
        problems.append(Problem("error", source, 0, "holidays должен быть списком дат"))
        holidays = ()
    _schedule, schedule_problems = parse_schedule(working_hours, holidays)
    problems += [Problem("error", source, 0, message) for message in schedule_problems]
    return BotConfig(
        name=str(data.get("name") or defaults.name),
        language=str(data.get("language") or defaults.language),
        greeting=str(data.get("greeting") or defaults.greeting),
        prompts=prompts,
        topics=topics,
        thresholds=thresholds,
        working_hours=dict(working_hours),
        holidays=tuple(holidays),
        post_call_rating=bool(data.get("post_call_rating", False)),
    )


def _read_topics(raw: Any, source: str, problems: list[Problem]) -> dict[str, Topic]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        return {str(name): Topic(name=str(name), title=str(name)) for name in raw}
    if isinstance(raw, dict):
        topics: dict[str, Topic] = {}
        for name, settings in raw.items():
            settings = settings if isinstance(settings, dict) else {}
            try:
                priority = int(settings.get("priority") or 0)
            except (TypeError, ValueError):
                problems.append(
                    Problem("error", source, 0, f"topics.{name}.priority должен быть целым числом")
                )
                priority = 0
            topics[str(name)] = Topic(
                name=str(name),
                title=str(settings.get("title") or name),
                priority=priority,
                urgent=bool(settings.get("urgent", False)),
            )
        return topics
    problems.append(Problem("error", source, 0, "topics: нужен список имён или словарь"))
    return {}


def _read_faq_file(path: Path, root: Path, problems: list[Problem]) -> list[FaqEntry]:
    source = _rel(path, root)
    parsed = _parse_yaml(path, source, problems)
    if parsed is None:
        return []
    data, node = parsed
    if data is None:
        problems.append(Problem("warning", source, 0, "пустой файл"))
        return []
    if not isinstance(data, list):
        problems.append(Problem("error", source, 1, "файл должен быть списком записей (- id: ...)"))
        return []
    lines = [item.start_mark.line + 1 for item in node.value]
    entries: list[FaqEntry] = []
    for raw, line in zip(data, lines, strict=True):
        entry = _entry_from_mapping(raw, source, line, problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry_from_mapping(
    raw: Any, source: str, line: int, problems: list[Problem]
) -> FaqEntry | None:
    def error(message: str) -> None:
        problems.append(Problem("error", source, line, message))

    if not isinstance(raw, dict):
        error("запись должна быть словарём с полями id, topic, questions, answer")
        return None
    entry_id = str(raw.get("id") or "").strip()
    label = f"запись «{entry_id}»" if entry_id else "запись без id"
    if not entry_id:
        error(f"{label}: не указан id")
    elif not ENTRY_ID_PATTERN.match(entry_id):
        error(f"{label}: id может содержать только латинские строчные буквы, цифры и дефисы")
    for key in sorted(set(raw) - ENTRY_KEYS):
        problems.append(Problem("warning", source, line, f"{label}: неизвестное поле «{key}»"))
    raw_questions = raw.get("questions")
    if isinstance(raw_questions, str):
        raw_questions = [raw_questions]
    if not isinstance(raw_questions, list) or not raw_questions:
        error(f"{label}: нет ни одного вопроса (questions)")
        raw_questions = []
    questions = []
    for number, question in enumerate(raw_questions, start=1):
        text = str(question or "").strip()
        if text:
            questions.append(text)
        else:
            error(f"{label}: вопрос №{number} пустой")
    answer = str(raw.get("answer") or "").strip()
    if not answer:
        error(f"{label}: пустой ответ (answer)")
    escalate = raw.get("escalate", False)
    if not isinstance(escalate, bool):
        error(f"{label}: escalate должно быть true или false")
        escalate = False
    if not entry_id or not questions:
        return None
    return FaqEntry(
        id=entry_id,
        topic=str(raw.get("topic") or DEFAULT_TOPIC).strip(),
        questions=tuple(questions),
        answer=answer,
        escalate=escalate,
        title=str(raw.get("title") or "").strip(),
        source=source,
        line=line,
    )


def validate_entries(entries: Iterable[FaqEntry], config: BotConfig) -> list[Problem]:
    """Cross-entry checks: duplicate ids, a question in two entries, unknown topics."""
    problems: list[Problem] = []
    seen_ids: dict[str, FaqEntry] = {}
    seen_questions: dict[str, FaqEntry] = {}
    for entry in entries:
        if entry.id in seen_ids:
            first = seen_ids[entry.id]
            problems.append(
                Problem(
                    "error",
                    entry.source,
                    entry.line,
                    f"повторяющийся id «{entry.id}» (уже есть в {first.location})",
                )
            )
        seen_ids.setdefault(entry.id, entry)
        if config.topics and entry.topic not in config.topics:
            known = ", ".join(sorted(config.topics))
            problems.append(
                Problem(
                    "error",
                    entry.source,
                    entry.line,
                    f"запись «{entry.id}»: неизвестная тема «{entry.topic}» (есть: {known})",
                )
            )
        own: set[str] = set()
        for question in entry.questions:
            key = question_key(question)
            other = seen_questions.get(key)
            if key in own:
                problems.append(
                    Problem(
                        "warning",
                        entry.source,
                        entry.line,
                        f"запись «{entry.id}»: вопрос повторяется: «{question}»",
                    )
                )
            elif other is not None and other.id != entry.id:
                problems.append(
                    Problem(
                        "error",
                        entry.source,
                        entry.line,
                        f"запись «{entry.id}»: вопрос «{question}» уже есть в записи "
                        f"«{other.id}» ({other.location})",
                    )
                )
            own.add(key)
            seen_questions.setdefault(key, entry)
    return problems


# --- writing -------------------------------------------------------------------------


def entry_to_mapping(entry: FaqEntry) -> dict[str, Any]:
    """The YAML form of an entry, fields in the documented order."""
    data: dict[str, Any] = {"id": entry.id, "topic": entry.topic}
    if entry.title:
        data["title"] = entry.title
    data["questions"] = list(entry.questions)
    data["answer"] = entry.answer
    data["escalate"] = entry.escalate
    return data


def write_knowledge_base(
    root: Path, entries: Iterable[FaqEntry], config_mapping: Mapping[str, Any]
) -> list[Path]:
    """Write bot.yaml and faq/<topic>.yaml files (one per topic); return the files written."""
    faq_dir = root / "faq"
    faq_dir.mkdir(parents=True, exist_ok=True)
    written = [root / "bot.yaml"]
    _dump(root / "bot.yaml", dict(config_mapping))
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_topic.setdefault(entry.topic, []).append(entry_to_mapping(entry))
    for topic, items in by_topic.items():
        path = faq_dir / f"{topic}.yaml"
        _dump(path, items)
        written.append(path)
    return written


def _dump(path: Path, data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    path.write_text(text, encoding="utf-8")
