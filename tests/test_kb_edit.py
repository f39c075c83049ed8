"""The editable knowledge base: same validation as `kb check`, minimal file changes, conflicts."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import DEFAULT_KB, SMALL_BOT, SMALL_FAQ, WriteKb

from voicebot.embedding import HashingEmbedder
from voicebot.errors import KnowledgeBaseError
from voicebot.kb_edit import (
    EditConflict,
    EditRejected,
    add_paraphrase,
    add_topic,
    changed_files,
    check_files,
    confusable_warnings,
    create_entry,
    delete_entry,
    draft_from_files,
    entry_revision,
    load_draft,
    read_files,
    remove_paraphrase,
    render_files,
    set_escalate,
    set_topic,
    update_entry,
    write_directory,
)
from voicebot.knowledge import FaqEntry, check_knowledge_base, load_knowledge_base
from voicebot.text import IdentityLemmatizer

NEW = FaqEntry(
    id="tv-connect",
    topic="tech",
    questions=("как подключить телевидение", "хочу смотреть тв"),
    answer="Телевидение подключается в личном кабинете.",
)


def _copy_default(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB, root)
    return root


# --- the same validator --------------------------------------------------------------------


def test_the_default_kb_checks_the_same_in_memory_as_on_disk() -> None:
    assert check_files(read_files(DEFAULT_KB)) == check_knowledge_base(DEFAULT_KB)
    draft = load_draft(DEFAULT_KB)
    kb = load_knowledge_base(DEFAULT_KB)
    assert [(e.id, e.source, e.line) for e in draft.entries] == [
        (e.id, e.source, e.line) for e in kb.entries
    ]
    assert draft.out_of_scope == kb.out_of_scope
    assert draft.config == kb.config


@pytest.mark.parametrize(
    "faq",
    [
        {"a.yaml": [{"id": "x", "topic": "billing", "questions": ["раз"], "answer": "да"}] * 2},
        {"a.yaml": [{"id": "x", "topic": "nowhere", "questions": ["раз"], "answer": "да"}]},
        {"a.yaml": "- id: x\n  questions: [раз\n"},
        {"a.yaml": [{"id": "Bad Id", "questions": [""], "answer": "", "extra": 1}]},
        {"a.yaml": "", "b.yml": [{"id": "y", "topic": "tech", "questions": "два", "answer": "a"}]},
        {},
    ],
)
def test_broken_directories_report_what_kb_check_reports(
    write_kb: WriteKb, faq: dict[str, object]
) -> None:
    root = write_kb(faq)
    (root / "out_of_scope.yaml").write_text("examples: [раз, ' ']\n", encoding="utf-8")
    expected = check_knowledge_base(root)
    assert any(p.severity == "error" for p in expected)
    assert check_files(read_files(root)) == expected
    with pytest.raises(KnowledgeBaseError):
        load_draft(root)


# --- editing -------------------------------------------------------------------------------


def test_an_update_rewrites_only_that_entry_and_round_trips(tmp_path: Path) -> None:
    root = _copy_default(tmp_path)
    draft = load_draft(root)
    entry = draft.entry("balance-check")
    assert entry is not None
    before = draft.files[entry.source]
    answer = ("Баланс видно в приложении. " * 5).strip()
    changed = replace(entry, answer=answer, escalate=True)

    edited = update_entry(
        draft, "balance-check", changed, based_on=entry_revision(entry), author="Иванова"
    )

    assert changed_files(draft, edited).keys() == {entry.source}
    after = render_files(edited)[entry.source]
    # The header comment and every other entry keep their text; only this block differs.
    old_lines, new_lines = before.splitlines(), after.splitlines()
    assert old_lines[: entry.line - 1] == new_lines[: entry.line - 1]
    assert old_lines[0].startswith("#")
    next_entry = [e for e in draft.entries if e.source == entry.source][1]
    tail = old_lines[next_entry.line - 1 :]
    assert new_lines[-len(tail) :] == tail
    assert "  answer: >-" in after.split("- id: payment-methods")[0]

    assert write_directory(edited, root) == [entry.source]
    kb = load_knowledge_base(root)
    assert kb.entry("balance-check").answer == answer
    assert kb.entry("balance-check").escalate is True
    assert [e.id for e in kb.entries] == [e.id for e in draft.entries]
    assert read_files(root) == render_files(edited)
    assert not list(root.glob(".kb-write-*"))


def test_untouched_files_are_not_rewritten(tmp_path: Path) -> None:
    root = _copy_default(tmp_path)
    draft = load_draft(root)
    stamps = {p: p.stat().st_mtime_ns for p in (root / "faq").iterdir()}
    assert write_directory(draft, root) == []
    edited = create_entry(draft, NEW, author="Петров")
    assert write_directory(edited, root) == ["faq/tech.yaml"]
    for path, stamp in stamps.items():
        if path.name != "tech.yaml":
            assert path.stat().st_mtime_ns == stamp, path


def test_a_new_entry_goes_to_its_topic_file(write_kb: WriteKb, tmp_path: Path) -> None:
    draft = load_draft(write_kb(SMALL_FAQ))
    tv = replace(NEW, topic="complaints", id="tv-complaint", questions=("плохо показывает тв",))
    edited = create_entry(draft, tv, author="Петров")
    entry = edited.entry("tv-complaint")
    assert entry is not None and entry.source == "faq/complaints.yaml"
    assert edited.files["faq/complaints.yaml"].startswith(draft.files["faq/complaints.yaml"])

    new_topic = add_topic(edited, "tv", "Телевидение", author="Петров")
    moved = create_entry(new_topic, replace(NEW, topic="tv"), author="Петров")
    assert moved.entry("tv-connect") is not None
    assert moved.entry("tv-connect").source == "faq/tv.yaml"  # type: ignore[union-attr]
    out = tmp_path / "written"
    write_directory(moved, out)
    kb = load_knowledge_base(out)
    assert kb.entry("tv-connect").questions == NEW.questions
    assert kb.topic("tv").title == "Телевидение"
    assert kb.entry("tv-complaint").topic == "complaints"


def test_paraphrases_topic_and_escalation(write_kb: WriteKb) -> None:
    draft = load_draft(write_kb(SMALL_FAQ))
    rev = draft.revision("internet-down")
    d1 = add_paraphrase(draft, "internet-down", "нет интернета", based_on=rev, author="a")
    assert d1.entry("internet-down").questions[-1] == "нет интернета"  # type: ignore[union-attr]
    d2 = remove_paraphrase(
        d1, "internet-down", "Пропал интернет!", based_on=d1.revision("internet-down"), author="a"
    )
    assert "пропал интернет" not in d2.entry("internet-down").questions  # type: ignore[union-attr]
    d3 = set_topic(
        d2, "internet-down", "billing", based_on=d2.revision("internet-down"), author="a"
    )
    d4 = set_escalate(d3, "internet-down", True, based_on=d3.revision("internet-down"), author="a")
    entry = d4.entry("internet-down")
    assert entry is not None and entry.topic == "billing" and entry.escalate
    assert entry.source == "faq/tech.yaml"  # it stays where it lives
    assert draft.entry("internet-down").questions[1] == "пропал интернет"  # type: ignore[union-attr]
    assert draft_from_files(render_files(d4)).entries == d4.entries


def test_deleting_the_last_entry_of_a_file_removes_the_file(
    write_kb: WriteKb, tmp_path: Path
) -> None:
    root = write_kb(SMALL_FAQ)
    draft = load_draft(root)
    edited = delete_entry(draft, "complaint", based_on=draft.revision("complaint"), author="a")
    assert "faq/complaints.yaml" not in edited.files
    assert changed_files(draft, edited) == {"faq/complaints.yaml": None}
    assert write_directory(edited, root) == ["faq/complaints.yaml"]
    assert not (root / "faq" / "complaints.yaml").exists()
    assert [e.id for e in load_knowledge_base(root).entries] == [
        "balance-check",
        "payment-methods",
        "internet-down",
    ]


# --- invalid input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (replace(NEW, answer=""), "пустой ответ"),
        (replace(NEW, topic="nowhere"), "неизвестная тема «nowhere»"),
        (replace(NEW, questions=("Как узнать баланс?",)), "уже есть в записи «balance-check»"),
        (replace(NEW, id="Плохой id"), "id может содержать только"),
        (replace(NEW, questions=("  ",)), "вопрос №1 пустой"),
        (replace(NEW, questions=()), "нет ни одного вопроса"),
    ],
)
def test_invalid_entries_are_rejected_with_the_validators_message(
    write_kb: WriteKb, entry: FaqEntry, message: str
) -> None:
    draft = load_draft(write_kb(SMALL_FAQ))
    with pytest.raises(EditRejected) as caught:
        create_entry(draft, entry, author="a")
    errors = [str(p) for p in caught.value.problems if p.severity == "error"]
    assert any(message in e for e in errors), errors
    assert "ошибка" in errors[0]


def test_warnings_travel_on_the_draft(write_kb: WriteKb) -> None:
    draft = load_draft(write_kb(SMALL_FAQ))
    edited = create_entry(draft, replace(NEW, questions=("тв", "ТВ!")), author="a")
    assert [p.message for p in edited.warnings] == [
        "запись «tv-connect»: вопрос повторяется: «ТВ!»"
    ]


def test_an_unknown_paraphrase_or_a_taken_id_is_rejected(write_kb: WriteKb) -> None:
    draft = load_draft(write_kb(SMALL_FAQ))
    rev = draft.revision("complaint")
    with pytest.raises(EditRejected, match="не сохранена"):
        remove_paraphrase(draft, "complaint", "такого нет", based_on=rev, author="a")
    entry = draft.entry("complaint")
    assert entry is not None
    with pytest.raises(EditRejected) as caught:
        update_entry(
            draft, "complaint", replace(entry, id="balance-check"), based_on=rev, author="a"
        )
    assert "уже занят" in caught.value.problems[0].message


# --- two editors ---------------------------------------------------------------------------


def test_a_stale_edit_is_refused_naming_who_and_what_changed(write_kb: WriteKb) -> None:
    draft = load_draft(write_kb(SMALL_FAQ))
    seen_by_b = draft.revision("balance-check")
    entry = draft.entry("balance-check")
    assert entry is not None
    by_a = update_entry(
        draft,
        "balance-check",
        replace(entry, answer="Новый ответ.", questions=(*entry.questions, "баланс")),
        based_on=seen_by_b,
        author="Иванова",
    )

    with pytest.raises(EditConflict) as caught:
        set_escalate(by_a, "balance-check", True, based_on=seen_by_b, author="Петров")
    message = str(caught.value)
    assert "«balance-check» изменилась" in message
    assert "(Иванова)" in message
    assert "изменено: вопросы, ответ" in message
    assert "не сохранены" in message
    assert caught.value.current == by_a.entry("balance-check")

    # Another entry is not in conflict: both editors' changes survive.
    both = set_escalate(
        by_a, "internet-down", True, based_on=draft.revision("internet-down"), author="Петров"
    )
    assert both.entry("balance-check").answer == "Новый ответ."  # type: ignore[union-attr]
    assert both.entry("internet-down").escalate  # type: ignore[union-attr]


def test_editing_a_deleted_or_renamed_entry_says_so(write_kb: WriteKb) -> None:
    draft = load_draft(write_kb(SMALL_FAQ))
    rev = draft.revision("complaint")
    deleted = delete_entry(draft, "complaint", based_on=rev, author="Иванова")
    with pytest.raises(EditConflict, match=r"«complaint» уже удалена \(Иванова\)"):
        add_paraphrase(deleted, "complaint", "ещё", based_on=rev, author="Петров")
    entry = draft.entry("complaint")
    assert entry is not None
    renamed = update_entry(draft, "complaint", replace(entry, id="grief"), based_on=rev, author="И")
    with pytest.raises(EditConflict, match="переименована в «grief»"):
        delete_entry(renamed, "complaint", based_on=rev, author="Петров")
    with pytest.raises(EditConflict, match="уже есть"):
        create_entry(renamed, replace(NEW, id="grief"), author="Петров")


# --- the matcher's warning -----------------------------------------------------------------


def test_a_paraphrase_closer_to_another_entry_is_warned_about(
    write_kb: WriteKb, tmp_path: Path
) -> None:
    bot = dict(SMALL_BOT)
    draft = load_draft(write_kb(SMALL_FAQ, bot=bot))
    rev = draft.revision("balance-check")
    edited = add_paraphrase(
        draft, "balance-check", "пропал интернет дома", based_on=rev, author="a"
    )
    warnings = confusable_warnings(
        edited,
        HashingEmbedder(),
        IdentityLemmatizer(),
        cache_dir=tmp_path / "cache",
        entry_ids=["balance-check"],
    )
    assert any(
        "вопрос «пропал интернет дома» ближе к записи «internet-down»" in p.message
        for p in warnings
    ), warnings
