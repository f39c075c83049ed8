"""An editable knowledge base: a directory's files in memory, edited entry by entry.

A `KbDraft` is immutable: every operation returns a new draft, re-parsed from its files and
checked by the same rules as `voicebot kb check` (knowledge.py); an edit that introduces an error
raises `EditRejected` with every problem, warnings travel on the draft. Edits of an entry carry
the `revision` (content hash) they were based on; a stale one raises `EditConflict` naming who
changed what, so two editors never silently overwrite each other.

Files stay the source format. An edit rewrites only the YAML file its entry lives in, and in it
only that entry's block (other entries keep their text and comments); new entries are appended
to `faq/<topic>.yaml`. When a file's layout does not allow that (flow style, unusual indentation)
the whole file is re-rendered and its comments are lost. Renaming a topic in bot.yaml rewrites
bot.yaml (its comments are lost). Only `load_draft` and `write_directory` touch the disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from voicebot.embedding import Embedder
from voicebot.errors import KnowledgeBaseError, VoicebotError
from voicebot.knowledge import (
    DEFAULT_TOPIC,
    OUT_OF_SCOPE_FILE,
    BotConfig,
    FaqEntry,
    KnowledgeBase,
    Problem,
    _entry_from_mapping,
    bot_config_from_mapping,
    entry_to_mapping,
    question_key,
    validate_entries,
)
from voicebot.text import Lemmatizer

BOT_FILE = "bot.yaml"
FIELD_TITLES = {
    "id": "id",
    "topic": "тема",
    "title": "название",
    "questions": "вопросы",
    "answer": "ответ",
    "escalate": "передача оператору",
}
# Answers longer than this are written as folded block scalars (`answer: >-`), as the shipped KB.
FOLD_ANSWERS_OVER = 80

EditAction = Literal["create", "update", "delete"]


class EditRejected(VoicebotError):
    """The edit would make the knowledge base invalid; `problems` has every finding."""

    code = "kb_edit_rejected"

    def __init__(self, message: str, problems: Sequence[Problem]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class EditConflict(VoicebotError):
    """The entry changed since the editor opened it; the message (Russian) says who and what."""

    code = "kb_edit_conflict"

    def __init__(self, message: str, entry_id: str, current: FaqEntry | None) -> None:
        super().__init__(message)
        self.entry_id = entry_id
        self.current = current  # the entry as it is now (None: deleted)


@dataclass(frozen=True)
class EntryEdit:
    """Who last changed an entry in a draft's lineage, and what it was before."""

    author: str
    action: EditAction
    before: FaqEntry | None = None
    renamed_to: str = ""


@dataclass(frozen=True)
class KbDraft:
    """A valid knowledge base as files (relative path -> text) and what they parse into."""

    files: Mapping[str, str]
    entries: tuple[FaqEntry, ...]
    config: BotConfig
    bot: Mapping[str, Any]
    out_of_scope: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()
    edits: Mapping[str, EntryEdit] = field(default_factory=dict)

    def entry(self, entry_id: str) -> FaqEntry | None:
        """The entry with this id, or None."""
        return next((e for e in self.entries if e.id == entry_id), None)

    def revision(self, entry_id: str) -> str:
        """The entry's content hash ("" when absent): edits are based on it."""
        entry = self.entry(entry_id)
        return entry_revision(entry) if entry is not None else ""

    @property
    def content_hash(self) -> str:
        """A hash of every file: equal drafts, equal hashes."""
        return content_hash(self.files)

    def knowledge_base(self) -> KnowledgeBase:
        """The draft as a loaded knowledge base (no directory)."""
        return KnowledgeBase(
            config=self.config,
            entries=self.entries,
            root=None,
            warnings=self.warnings,
            out_of_scope=self.out_of_scope,
        )


def entry_revision(entry: FaqEntry) -> str:
    """A hash of an entry's content (not where it lives)."""
    data = json.dumps(entry_to_mapping(entry), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


def content_hash(files: Mapping[str, str]) -> str:
    """A hash of a set of files, independent of their order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode("utf-8") + b"\0" + files[path].encode("utf-8") + b"\0")
    return digest.hexdigest()


def is_kb_file(path: str) -> bool:
    """Whether a relative path belongs to a knowledge base's source files."""
    folder, _, name = path.rpartition("/")
    if folder == "":
        return name in (BOT_FILE, OUT_OF_SCOPE_FILE)
    if folder == "faq":
        return name.endswith((".yaml", ".yml"))
    return folder == "eval" and name.endswith(".jsonl")


# --- reading -------------------------------------------------------------------------------


def read_files(root: Path) -> dict[str, str]:
    """The source files of a knowledge-base directory (bot.yaml, out_of_scope.yaml, faq/*.yaml,
    faq/*.yml, eval/*.jsonl) as relative path -> text."""
    files: dict[str, str] = {}
    candidates = [root / BOT_FILE, root / OUT_OF_SCOPE_FILE]
    for folder, patterns in (("faq", ("*.yaml", "*.yml")), ("eval", ("*.jsonl",))):
        for pattern in patterns:
            candidates.extend(sorted((root / folder).glob(pattern)))
    for path in candidates:
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return files


def load_draft(root: Path) -> KbDraft:
    """Read a directory into a draft; KnowledgeBaseError when it has errors."""
    if not root.is_dir():
        raise KnowledgeBaseError(f"папка базы знаний {root} не найдена")
    return draft_from_files(read_files(root))


def draft_from_files(
    files: Mapping[str, str], edits: Mapping[str, EntryEdit] | None = None
) -> KbDraft:
    """A draft from file texts; KnowledgeBaseError listing every error when they have any."""
    draft, problems = _parse(files, edits or {})
    errors = [p for p in problems if p.severity == "error"]
    if errors or draft is None:
        raise KnowledgeBaseError(
            f"база знаний содержит ошибки: {len(errors)}", [str(p) for p in errors]
        )
    return draft


def check_files(files: Mapping[str, str]) -> list[Problem]:
    """Every problem of a set of files, errors and warnings (what `check_knowledge_base` says of
    the same files on disk)."""
    return _parse(files, {})[1]


def _yaml(text: str, source: str, problems: list[Problem]) -> tuple[Any, Any] | None:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        problems.append(Problem("error", source, line, f"неверный YAML: {exc.problem}"))
        return None
    return data, node


def _faq_paths(files: Mapping[str, str]) -> list[str]:
    """faq files in the loader's order: *.yaml sorted, then *.yml sorted."""
    faq = [p for p in files if p.startswith("faq/") and "/" not in p[4:]]
    return sorted(p for p in faq if p.endswith(".yaml")) + sorted(
        p for p in faq if p.endswith(".yml")
    )


def _parse(
    files: Mapping[str, str], edits: Mapping[str, EntryEdit]
) -> tuple[KbDraft | None, list[Problem]]:
    """Mirror of knowledge._read_directory over texts (tests/test_kb_edit.py checks they agree)."""
    problems: list[Problem] = []
    bot: dict[str, Any] = {}
    config = BotConfig()
    if BOT_FILE not in files:
        problems.append(Problem("error", BOT_FILE, 0, "нет файла bot.yaml"))
    else:
        parsed = _yaml(files[BOT_FILE], BOT_FILE, problems)
        if parsed is not None:
            data = parsed[0] or {}
            if isinstance(data, dict):
                bot = data
                config = bot_config_from_mapping(data, BOT_FILE, problems)
            else:
                problems.append(
                    Problem("error", BOT_FILE, 1, "bot.yaml должен быть словарём полей")
                )
    paths = _faq_paths(files)
    if not paths:
        problems.append(Problem("error", "faq", 0, "нет ни одного файла faq/*.yaml"))
    entries: list[FaqEntry] = []
    for path in paths:
        entries.extend(_faq_entries(files[path], path, problems))
    problems.extend(validate_entries(entries, config))
    out_of_scope = _out_of_scope(files.get(OUT_OF_SCOPE_FILE), entries, problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    draft = KbDraft(
        files=dict(sorted(files.items())),
        entries=tuple(entries),
        config=config,
        bot=bot,
        out_of_scope=tuple(out_of_scope),
        warnings=tuple(problems),
        edits=dict(edits),
    )
    return draft, problems


def _faq_entries(text: str, source: str, problems: list[Problem]) -> list[FaqEntry]:
    parsed = _yaml(text, source, problems)
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
    found = (
        _entry_from_mapping(raw, source, line, problems)
        for raw, line in zip(data, lines, strict=True)
    )
    return [entry for entry in found if entry is not None]


def _out_of_scope(text: str | None, entries: list[FaqEntry], problems: list[Problem]) -> list[str]:
    if text is None:
        return []
    parsed = _yaml(text, OUT_OF_SCOPE_FILE, problems)
    if parsed is None:
        return []
    data = parsed[0] or {}
    raw = data.get("examples") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        problems.append(Problem("error", OUT_OF_SCOPE_FILE, 1, "нужен список examples: [...]"))
        return []
    own = {question_key(q): e for e in entries for q in e.questions}
    examples: list[str] = []
    for number, item in enumerate(raw, start=1):
        example = str(item or "").strip()
        if not example:
            problems.append(Problem("error", OUT_OF_SCOPE_FILE, 0, f"пример №{number} пустой"))
        elif question_key(example) in own:
            entry = own[question_key(example)]
            problems.append(
                Problem(
                    "error",
                    OUT_OF_SCOPE_FILE,
                    0,
                    f"пример «{example}» совпадает с вопросом записи «{entry.id}» ({entry.location})",
                )
            )
        else:
            examples.append(example)
    return examples


# --- editing -------------------------------------------------------------------------------


def create_entry(draft: KbDraft, entry: FaqEntry, *, author: str) -> KbDraft:
    """Add an entry at the end of faq/<topic>.yaml (created when absent)."""
    existing = draft.entry(entry.id)
    if existing is not None:
        edit = draft.edits.get(entry.id)
        by = f" (её создал(а) {edit.author})" if edit is not None else ""
        raise EditConflict(
            f"Запись с id «{entry.id}» уже есть{by}, {existing.location}. Выберите другой id.",
            entry.id,
            existing,
        )
    path = f"faq/{_file_stem(entry.topic)}.yaml"
    if path not in draft.files and path.replace(".yaml", ".yml") in draft.files:
        path = path.replace(".yaml", ".yml")
    files = dict(draft.files)
    files[path] = _edit_file(draft.files.get(path, ""), None, entry_to_mapping(entry))
    edits = {**draft.edits, entry.id: EntryEdit(author, "create")}
    return _rebuilt(draft, files, edits, f"запись «{entry.id}» не добавлена")


def update_entry(
    draft: KbDraft, entry_id: str, entry: FaqEntry, *, based_on: str, author: str
) -> KbDraft:
    """Replace an entry (its id may change) where it lives; `based_on` is its revision as read."""
    current = _current(draft, entry_id, based_on)
    if entry.id != entry_id and draft.entry(entry.id) is not None:
        raise EditRejected(
            f"запись «{entry_id}» не сохранена",
            [Problem("error", current.source, current.line, f"id «{entry.id}» уже занят")],
        )
    files = dict(draft.files)
    index = _index_in_file(draft, current)
    files[current.source] = _edit_file(files[current.source], index, entry_to_mapping(entry))
    edits = {**draft.edits, entry.id: EntryEdit(author, "update", current)}
    if entry.id != entry_id:
        edits[entry_id] = EntryEdit(author, "delete", current, renamed_to=entry.id)
    return _rebuilt(draft, files, edits, f"запись «{entry_id}» не сохранена")


def delete_entry(draft: KbDraft, entry_id: str, *, based_on: str, author: str) -> KbDraft:
    """Remove an entry; its file goes too when it was the last one there."""
    current = _current(draft, entry_id, based_on)
    files = dict(draft.files)
    remaining = _edit_file(files[current.source], _index_in_file(draft, current), None)
    if remaining.strip():
        files[current.source] = remaining
    else:
        del files[current.source]
    edits = {**draft.edits, entry_id: EntryEdit(author, "delete", current)}
    return _rebuilt(draft, files, edits, f"запись «{entry_id}» не удалена")


def add_paraphrase(
    draft: KbDraft, entry_id: str, question: str, *, based_on: str, author: str
) -> KbDraft:
    """Append one way callers ask this entry's question."""
    current = _current(draft, entry_id, based_on)
    changed = replace(current, questions=(*current.questions, question.strip()))
    return update_entry(draft, entry_id, changed, based_on=based_on, author=author)


def remove_paraphrase(
    draft: KbDraft, entry_id: str, question: str, *, based_on: str, author: str
) -> KbDraft:
    """Drop one paraphrase (compared as `question_key`: case, ё and punctuation do not matter)."""
    current = _current(draft, entry_id, based_on)
    key = question_key(question)
    kept = tuple(q for q in current.questions if question_key(q) != key)
    if len(kept) == len(current.questions):
        raise EditRejected(
            f"запись «{entry_id}» не сохранена",
            [Problem("error", current.source, current.line, f"нет вопроса «{question}»")],
        )
    changed = replace(current, questions=kept)
    return update_entry(draft, entry_id, changed, based_on=based_on, author=author)


def set_topic(draft: KbDraft, entry_id: str, topic: str, *, based_on: str, author: str) -> KbDraft:
    """Move an entry to another operator queue (it stays in its file)."""
    current = _current(draft, entry_id, based_on)
    changed = replace(current, topic=topic.strip())
    return update_entry(draft, entry_id, changed, based_on=based_on, author=author)


def set_escalate(
    draft: KbDraft, entry_id: str, escalate: bool, *, based_on: str, author: str
) -> KbDraft:
    """Whether the bot connects an operator after saying this answer."""
    current = _current(draft, entry_id, based_on)
    changed = replace(current, escalate=escalate)
    return update_entry(draft, entry_id, changed, based_on=based_on, author=author)


def add_topic(draft: KbDraft, name: str, title: str, *, author: str) -> KbDraft:
    """Add an operator queue to bot.yaml (bot.yaml is re-rendered: its comments are lost)."""
    name = name.strip()
    if name in draft.config.topics:
        raise EditRejected(
            f"тема «{name}» не добавлена",
            [Problem("error", BOT_FILE, 0, f"тема «{name}» уже есть")],
        )
    bot = dict(draft.bot)
    raw = bot.get("topics")
    if isinstance(raw, list):
        topics: dict[str, Any] = {str(t): {"title": str(t)} for t in raw}
    else:
        topics = dict(raw or {})
    topics[name] = {"title": title.strip() or name}
    bot["topics"] = topics
    files = {**draft.files, BOT_FILE: _dump(bot)}
    return _rebuilt(draft, files, dict(draft.edits), f"тема «{name}» не добавлена")


def _current(draft: KbDraft, entry_id: str, based_on: str) -> FaqEntry:
    """The entry an edit applies to; EditConflict when it changed or vanished meanwhile."""
    current = draft.entry(entry_id)
    if current is not None and entry_revision(current) == based_on:
        return current
    edit = draft.edits.get(entry_id)
    by = f" ({edit.author})" if edit is not None else ""
    keep = "Ваши изменения не сохранены"
    if current is None:
        if edit is not None and edit.renamed_to:
            what = f"переименована в «{edit.renamed_to}»{by}"
        else:
            what = f"удалена{by}"
        raise EditConflict(f"Запись «{entry_id}» уже {what}. {keep}.", entry_id, None)
    fields = ""
    if edit is not None and edit.before is not None and entry_revision(edit.before) == based_on:
        before, after = entry_to_mapping(edit.before), entry_to_mapping(current)
        names = [title for key, title in FIELD_TITLES.items() if before.get(key) != after.get(key)]
        fields = f"; изменено: {', '.join(names)}" if names else ""
    raise EditConflict(
        f"Запись «{entry_id}» изменилась, пока вы её редактировали{by}{fields}. {keep}: "
        "откройте запись заново и повторите правку.",
        entry_id,
        current,
    )


def _index_in_file(draft: KbDraft, entry: FaqEntry) -> int:
    """The entry's position among the entries of its file (a valid draft has no invalid items)."""
    same_file = [e for e in draft.entries if e.source == entry.source]
    return next(i for i, e in enumerate(same_file) if e.id == entry.id and e.line == entry.line)


def _rebuilt(
    draft: KbDraft, files: dict[str, str], edits: dict[str, EntryEdit], failure: str
) -> KbDraft:
    built, problems = _parse(files, edits)
    if built is None:
        raise EditRejected(failure, problems)
    return built


def _file_stem(topic: str) -> str:
    """A file name for a topic's entries: the topic, made safe for a path."""
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in topic.strip()).strip("-")
    return stem or DEFAULT_TOPIC


# --- writing YAML --------------------------------------------------------------------------


class _Folded(str):
    """A string written as a folded block scalar."""


class _Dumper(yaml.SafeDumper):
    """Block sequences indented under their key, as the shipped knowledge base writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Never indentless."""
        super().increase_indent(flow, False)


def _represent_folded(dumper: yaml.SafeDumper, data: _Folded) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style=">")


_Dumper.add_representer(_Folded, _represent_folded)


def _dump(data: Any, fold: bool = False) -> str:
    if fold and isinstance(data, list):
        data = [_folded_answer(item) for item in data]
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def _folded_answer(item: Any) -> Any:
    if isinstance(item, dict) and isinstance(item.get("answer"), str):
        answer = item["answer"]
        if len(answer) > FOLD_ANSWERS_OVER and "\n" not in answer and answer == answer.strip():
            return {**item, "answer": _Folded(answer)}
    return item


def _render_items(items: list[Any]) -> str:
    """A list of entries as YAML; folded answers only when they read back the same."""
    text = _dump(items, fold=True)
    return text if yaml.safe_load(text) == items else _dump(items)


def _edit_file(text: str, index: int | None, item: dict[str, Any] | None) -> str:
    """The file with item `index` replaced by `item` (None: removed; index None: appended).

    Only that item's lines change when the file is a block sequence at column 0; the result is
    checked by parsing it back, and the file is re-rendered whole when anything differs."""
    data = yaml.safe_load(text) if text.strip() else []
    items = list(data) if isinstance(data, list) else []
    expected = list(items)
    if index is None:
        assert item is not None
        expected.append(item)
    elif item is None:
        del expected[index]
    else:
        expected[index] = item
    spliced = _splice(text, index, _render_items([item]) if item is not None else "")
    if spliced is not None and _reads_as(spliced, expected):
        return spliced
    return _render_items(expected) if expected else ""


def _reads_as(text: str, expected: list[Any]) -> bool:
    try:
        data = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError:
        return False
    return data == expected


def _splice(text: str, index: int | None, block: str) -> str | None:
    """Replace (or append) one item's lines of a block-sequence file; None when not applicable."""
    if not text.strip():
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.SequenceNode) or node.flow_style:
        return None
    lines = text.splitlines(keepends=True)
    starts = [item.start_mark.line for item in node.value]
    if any(not lines[line].startswith("- ") for line in starts):
        return None
    if index is None:
        return text + ("" if text.endswith("\n") else "\n") + block
    start = starts[index]
    end = starts[index + 1] if index + 1 < len(starts) else len(lines)
    # Comments and blank lines just before the next entry belong to it: keep them.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def render_files(draft: KbDraft) -> dict[str, str]:
    """Every source file of the draft, relative path -> text (unedited files as they were read)."""
    return dict(draft.files)


def changed_files(before: KbDraft, after: KbDraft) -> dict[str, str | None]:
    """Files that differ between two drafts: new text, or None for a file removed."""
    changed: dict[str, str | None] = {
        path: text for path, text in after.files.items() if before.files.get(path) != text
    }
    changed.update({path: None for path in before.files if path not in after.files})
    return changed


def write_directory(draft: KbDraft, root: Path) -> list[str]:
    """Write the draft's files that differ from what `root` holds; remove KB files it no longer
    has. Each file is replaced atomically (written to a temporary directory inside `root`, then
    renamed over), so a reader sees either the old or the new text of every file."""
    root.mkdir(parents=True, exist_ok=True)
    on_disk = read_files(root)
    changed = [path for path, text in draft.files.items() if on_disk.get(path) != text]
    removed = [path for path in on_disk if path not in draft.files]
    if changed:
        staging = Path(tempfile.mkdtemp(prefix=".kb-write-", dir=root))
        try:
            for number, path in enumerate(changed):
                temporary = staging / str(number)
                with temporary.open("w", encoding="utf-8", newline="") as handle:
                    handle.write(draft.files[path])
                    handle.flush()
                    os.fsync(handle.fileno())
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                os.replace(temporary, root / path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    for path in removed:
        (root / path).unlink(missing_ok=True)
    return sorted(changed + removed)


# --- checks that need the matcher -----------------------------------------------------------


def confusable_warnings(
    draft: KbDraft,
    embedder: Embedder,
    lemmatizer: Lemmatizer,
    *,
    cache_dir: Path | None = None,
    entry_ids: Sequence[str] = (),
) -> list[Problem]:
    """`voicebot kb check`'s "closer to another entry" warnings (builds a matcher: not cheap),
    only for `entry_ids` when given."""
    from voicebot.kb_lint import confusable_questions
    from voicebot.matcher import Matcher

    matcher = Matcher(draft.knowledge_base(), embedder, lemmatizer, cache_dir=cache_dir)
    problems = confusable_questions(matcher)
    if not entry_ids:
        return problems
    wanted = tuple(f"запись «{entry_id}»:" for entry_id in entry_ids)
    return [p for p in problems if p.message.startswith(wanted)]
