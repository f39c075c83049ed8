"""Knowledge-base versions on SQLite and PostgreSQL: history, conflicts, diff, publish, rollback."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DEFAULT_KB

from voicebot.kb_edit import create_entry, delete_entry, load_draft, update_entry
from voicebot.knowledge import FaqEntry
from voicebot.store.kb_versions import (
    KbVersionConflict,
    KbVersionNotFound,
    KbVersionStore,
    entry_changes,
)

pytest_plugins = (f"{__package__}.db" if __package__ else "db",)

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
TV = FaqEntry(
    id="tv-connect",
    topic="tech",
    questions=("как подключить телевидение",),
    answer="Телевидение подключается в личном кабинете.",
)


def test_versions_form_a_line_and_a_stale_save_is_refused(database_url: str) -> None:
    draft = load_draft(DEFAULT_KB)
    with KbVersionStore(database_url) as store:
        assert store.head() is None and store.published() is None
        first = store.save(draft.files, "импорт", "из каталога", None, now=T0)
        assert first.files == draft.files  # every byte of every file, Cyrillic included
        assert first.content_hash == draft.content_hash
        assert first.parent_id is None and not first.published

        edited = create_entry(draft, TV, author="Иванова")
        second = store.save(edited.files, "Иванова", "ТВ", first.id, now=T0 + timedelta(minutes=1))
        assert second.parent_id == first.id
        assert store.head() == second
        assert [v.id for v in store.history()] == [second.id, first.id]
        assert store.get(first.id) == first

        with pytest.raises(KbVersionConflict) as caught:
            store.save(draft.files, "Петров", "тоже правка", first.id)
        assert f"изменил(а) Иванова (версия №{second.id}, 24.11.2026 09:31 UTC)" in str(
            caught.value
        )
        assert f"на версии №{first.id}" in str(caught.value)
        with pytest.raises(KbVersionNotFound):
            store.get(999)


def test_two_processes_saving_on_the_same_parent_cannot_both_win(database_url: str) -> None:
    draft = load_draft(DEFAULT_KB)
    with KbVersionStore(database_url) as setup:
        base = setup.save(draft.files, "импорт", "", None)
    stores = [KbVersionStore(database_url, migrate=False) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(store: KbVersionStore, author: str) -> None:
        barrier.wait()
        try:
            store.save({**draft.files, "faq/x.yaml": author}, author, "", base.id)
            outcomes.append("saved")
        except KbVersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(s, f"editor{i}")) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for store in stores:
        store.close()
    assert sorted(outcomes) == ["conflict", "saved"]
    with KbVersionStore(database_url) as store:
        assert len(store.history()) == 2


def test_diff_and_the_audit_name_every_changed_entry(database_url: str) -> None:
    draft = load_draft(DEFAULT_KB)
    balance = draft.entry("balance-check")
    assert balance is not None
    edited = create_entry(draft, TV, author="Иванова")
    edited = update_entry(
        edited,
        "balance-check",
        replace(balance, answer="Баланс в приложении."),
        based_on=edited.revision("balance-check"),
        author="Иванова",
    )
    edited = delete_entry(
        edited, "speed-test", based_on=edited.revision("speed-test"), author="Иванова"
    )
    with KbVersionStore(database_url) as store:
        a = store.save(draft.files, "импорт", "", None, now=T0)
        b = store.save(edited.files, "Иванова", "три правки", a.id, now=T0 + timedelta(hours=1))
        diff = store.diff(a.id, b.id)
        assert (diff.added, diff.removed, diff.changed) == (
            ("tv-connect",),
            ("speed-test",),
            ("balance-check",),
        )
        by_path = {f.path: f for f in diff.files}
        assert set(by_path) == {"faq/billing.yaml", "faq/tech.yaml"}
        billing = by_path["faq/billing.yaml"].diff
        assert billing.startswith(f"--- v{a.id}/faq/billing.yaml\n+++ v{b.id}/faq/billing.yaml\n")
        assert "+  answer: Баланс в приложении.\n" in billing
        assert by_path["faq/tech.yaml"].status == "changed"

        lines = store.audit()
        assert [(r.action, r.entry_id) for r in lines[:4]] == [
            ("save", None),
            ("update", "balance-check"),
            ("delete", "speed-test"),
            ("create", "tv-connect"),
        ]
        assert all(r.author == "Иванова" and r.version_id == b.id for r in lines[:4])
        assert lines[0].detail["message"] == "три правки"
        assert [r.action for r in store.audit(entry_id="balance-check")] == ["update", "create"]
        last = store.last_edits(["balance-check", "speed-test", "tariff-change"])
        assert {k: (v.action, v.at) for k, v in last.items()} == {
            "balance-check": ("update", T0 + timedelta(hours=1)),
            "speed-test": ("delete", T0 + timedelta(hours=1)),
            "tariff-change": ("create", T0),  # the import created it
        }
        noted = store.record("Петров", "import", None, {"rows": 3}, now=T0)
        assert store.audit(limit=1) == [noted]


def test_publish_and_rollback_never_rewrite_history(database_url: str) -> None:
    draft = load_draft(DEFAULT_KB)
    edited = create_entry(draft, TV, author="Иванова")
    with KbVersionStore(database_url) as store:
        a = store.save(draft.files, "импорт", "", None, now=T0)
        b = store.save(edited.files, "Иванова", "ТВ", a.id, now=T0)
        published = store.publish(a.id, "Иванова", now=T0 + timedelta(minutes=1))
        assert published.published and published.published_at == T0 + timedelta(minutes=1)
        assert store.published() == published
        store.publish(b.id, "Иванова", now=T0 + timedelta(minutes=2))
        assert store.published().id == b.id  # type: ignore[union-attr]

        c = store.rollback(a.id, "Петров", now=T0 + timedelta(minutes=3))
        assert c.id not in (a.id, b.id) and c.parent_id == b.id
        assert c.files == a.files and c.content_hash == a.content_hash
        assert c.message == f"Откат к версии {a.id}"
        assert store.get(b.id).files == edited.files  # b is still there, unchanged
        assert store.published().id == b.id  # type: ignore[union-attr]  # until published
        assert [(r.action, r.entry_id) for r in store.audit(limit=2)] == [
            ("rollback", None),
            ("delete", "tv-connect"),
        ]
        store.publish(c.id, "Петров", now=T0 + timedelta(minutes=4))
        assert store.published().id == c.id  # type: ignore[union-attr]
        # Republishing an older version makes it the published one again.
        store.publish(a.id, "Петров", now=T0 + timedelta(minutes=5))
        assert store.published().id == a.id  # type: ignore[union-attr]
        assert [r.action for r in store.audit(limit=2)] == ["publish", "publish"]


def test_entry_changes_ignore_formatting() -> None:
    old = {"faq/a.yaml": "- id: x\n  answer: да\n", "bot.yaml": "name: a\n"}
    new = {"faq/b.yaml": "# moved\n- {id: x, answer: да}\n- id: y\n", "bot.yaml": "name: b\n"}
    assert entry_changes(old, new) == (("y",), (), ())
