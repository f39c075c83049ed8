"""KbVersionStore: saved versions of the knowledge base, their publication and the audit log.

Same conventions as CallStore: one Engine, one short transaction per method, thread-safe and
synchronous (call it through `asyncio.to_thread` from the event loop); SQLite or PostgreSQL.

- A version holds every source file of the knowledge base (relative path -> text, as
  voicebot.kb_edit reads and writes them), its author, message, time and parent.
- History is a line: `save` names the version the change was based on, and saving on anything
  but the newest version raises KbVersionConflict (checked in the write transaction and by a
  unique index on parent_id, so two processes cannot both win). Nothing is ever rewritten: a
  rollback is a new version with old content.
- Every save writes one audit line per entry it created, changed or deleted (computed from the
  files), plus one for the save; publishing and rolling back are audited too.
- The published version is the one published last; bridges poll `published()` to reload.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from voicebot.kb_edit import content_hash
from voicebot.store.database import Database, StoreError
from voicebot.store.schema import KbAuditRow, KbVersionRow


class KbVersionConflict(StoreError):
    """The version a save was based on is no longer the newest (the message says who saved)."""

    code = "kb_version_conflict"


class KbVersionNotFound(StoreError):
    """No version with this id."""

    code = "kb_version_not_found"


@dataclass(frozen=True)
class KbVersion:
    """One saved state of the knowledge base."""

    id: int
    created_at: datetime
    author: str
    message: str
    files: Mapping[str, str]
    content_hash: str
    parent_id: int | None
    published: bool
    published_at: datetime | None


@dataclass(frozen=True)
class FileDiff:
    """One file's change between two versions, as a unified diff."""

    path: str
    status: str  # added | removed | changed
    diff: str


@dataclass(frozen=True)
class KbDiff:
    """What changed from version `a` to version `b`: files and entry ids."""

    a: int
    b: int
    files: tuple[FileDiff, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit log."""

    id: int
    at: datetime
    author: str
    action: str  # create | update | delete | save | publish | rollback (or the caller's own)
    entry_id: str | None
    version_id: int | None
    detail: Mapping[str, Any]


class KbVersionStore(Database):
    """Knowledge-base versions and the audit log; thread-safe, one database session per method."""

    def _failure(self, what: str, exc: SQLAlchemyError) -> StoreError:
        """A unique-parent violation is a concurrent save: a conflict the editor can explain."""
        if isinstance(exc, IntegrityError):
            return KbVersionConflict(
                "Базу знаний только что сохранил кто-то другой. Обновите страницу и "
                "повторите правку."
            )
        return super()._failure(what, exc)

    # --- versions ----------------------------------------------------------------------------

    def save(
        self,
        files: Mapping[str, str],
        author: str,
        message: str,
        parent: int | None,
        *,
        now: datetime | None = None,
        action: str = "save",
    ) -> KbVersion:
        """A new version based on `parent` (None only for the first); KbVersionConflict when
        `parent` is not the newest version."""
        at = _aware(now)
        with self._session("save kb version", write=True) as session:
            head = session.scalars(select(KbVersionRow).order_by(KbVersionRow.id.desc())).first()
            if (head.id if head else None) != parent:
                raise KbVersionConflict(_conflict_message(head, parent))
            row = KbVersionRow(
                created_at=at,
                author=author,
                message=message,
                files=dict(sorted(files.items())),
                content_hash=content_hash(files),
                parent_id=parent,
                published=False,
            )
            session.add(row)
            session.flush()
            added, removed, changed = entry_changes(head.files if head else {}, files)
            for kind, ids in (("create", added), ("delete", removed), ("update", changed)):
                for entry_id in ids:
                    session.add(_audit_row(at, author, kind, entry_id, row.id, {}))
            detail = {"message": message, "parent": parent, "entries": len(ids_of(files))}
            session.add(_audit_row(at, author, action, None, row.id, detail))
            session.flush()
            return _version(row)

    def head(self) -> KbVersion | None:
        """The newest version, or None when nothing was saved yet."""
        with self._session("read kb head", write=False) as session:
            row = session.scalars(select(KbVersionRow).order_by(KbVersionRow.id.desc())).first()
            return _version(row) if row else None

    def get(self, version_id: int) -> KbVersion:
        """The version with this id; KbVersionNotFound otherwise."""
        with self._session("read kb version", write=False) as session:
            row = session.get(KbVersionRow, version_id)
            if row is None:
                raise KbVersionNotFound(f"нет версии базы знаний №{version_id}")
            return _version(row)

    def history(self, limit: int = 50) -> list[KbVersion]:
        """The newest `limit` versions, newest first."""
        query = select(KbVersionRow).order_by(KbVersionRow.id.desc()).limit(limit)
        with self._session("read kb history", write=False) as session:
            return [_version(row) for row in session.scalars(query)]

    def diff(self, a: int, b: int) -> KbDiff:
        """From version `a` to version `b`: a unified diff per changed file, and entry ids."""
        old, new = self.get(a), self.get(b)
        files: list[FileDiff] = []
        for path in sorted(set(old.files) | set(new.files)):
            before, after = old.files.get(path), new.files.get(path)
            if before == after:
                continue
            status = "added" if before is None else "removed" if after is None else "changed"
            lines = difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                fromfile=f"v{a}/{path}",
                tofile=f"v{b}/{path}",
            )
            files.append(FileDiff(path, status, "".join(lines)))
        added, removed, changed = entry_changes(old.files, new.files)
        return KbDiff(a, b, tuple(files), added, removed, changed)

    def publish(self, version_id: int, author: str, now: datetime | None = None) -> KbVersion:
        """Make this version the published one (bridges pick it up on their next poll)."""
        at = _aware(now)
        with self._session("publish kb version", write=True) as session:
            row = session.get(KbVersionRow, version_id)
            if row is None:
                raise KbVersionNotFound(f"нет версии базы знаний №{version_id}")
            row.published = True
            row.published_at = at
            session.add(_audit_row(at, author, "publish", None, version_id, {}))
            session.flush()
            return _version(row)

    def published(self) -> KbVersion | None:
        """The version published last, or None."""
        query = (
            select(KbVersionRow)
            .where(KbVersionRow.published_at.is_not(None))
            .order_by(KbVersionRow.published_at.desc(), KbVersionRow.id.desc())
        )
        with self._session("read published kb", write=False) as session:
            row = session.scalars(query).first()
            return _version(row) if row else None

    def rollback(self, to_id: int, author: str, now: datetime | None = None) -> KbVersion:
        """A new version (on top of the newest) with the content of version `to_id`."""
        target = self.get(to_id)
        head = self.head()
        return self.save(
            target.files,
            author,
            f"Откат к версии {to_id}",
            head.id if head else None,
            now=now,
            action="rollback",
        )

    # --- audit -------------------------------------------------------------------------------

    def record(
        self,
        author: str,
        action: str,
        entry_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        *,
        version_id: int | None = None,
        now: datetime | None = None,
    ) -> AuditRecord:
        """Add one line to the audit log (saves, publications and rollbacks add their own)."""
        row = _audit_row(_aware(now), author, action, entry_id, version_id, dict(detail or {}))
        with self._session("write kb audit", write=True) as session:
            session.add(row)
            session.flush()
            return _audit(row)

    def audit(self, limit: int = 100, entry_id: str | None = None) -> list[AuditRecord]:
        """The newest audit lines (of one entry when given), newest first."""
        query = select(KbAuditRow).order_by(KbAuditRow.id.desc()).limit(limit)
        if entry_id is not None:
            query = query.where(KbAuditRow.entry_id == entry_id)
        with self._session("read kb audit", write=False) as session:
            return [_audit(row) for row in session.scalars(query)]

    def last_edits(self, entry_ids: Sequence[str]) -> dict[str, AuditRecord]:
        """The latest create/update/delete of each entry (who last touched it, for conflicts)."""
        latest = (
            select(func.max(KbAuditRow.id))
            .where(KbAuditRow.entry_id.in_(list(entry_ids)))
            .where(KbAuditRow.action.in_(["create", "update", "delete"]))
            .group_by(KbAuditRow.entry_id)
        )
        with self._session("read kb audit", write=False) as session:
            rows = session.scalars(select(KbAuditRow).where(KbAuditRow.id.in_(latest)))
            return {str(row.entry_id): _audit(row) for row in rows}


# --- entries of a set of files ---------------------------------------------------------------


def ids_of(files: Mapping[str, str]) -> dict[str, Any]:
    """Entry id -> its YAML mapping, over faq/*.yaml|yml (unreadable files are skipped)."""
    entries: dict[str, Any] = {}
    for path in sorted(files):
        if not (path.startswith("faq/") and path.endswith((".yaml", ".yml"))):
            continue
        try:
            data = yaml.safe_load(files[path])
        except yaml.YAMLError:
            continue
        for item in data if isinstance(data, list) else []:
            if isinstance(item, dict) and item.get("id"):
                entries.setdefault(str(item["id"]), item)
    return entries


def entry_changes(
    old: Mapping[str, str], new: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(added, removed, changed) entry ids from one set of files to another, each sorted."""
    before, after = ids_of(old), ids_of(new)
    added = tuple(sorted(set(after) - set(before)))
    removed = tuple(sorted(set(before) - set(after)))
    changed = tuple(sorted(i for i in set(before) & set(after) if before[i] != after[i]))
    return added, removed, changed


def _conflict_message(head: KbVersionRow | None, parent: int | None) -> str:
    if head is None:
        return f"Версии №{parent} нет: база знаний ещё не сохранялась."
    return (
        f"Базу знаний уже изменил(а) {head.author} (версия №{head.id}, "
        f"{head.created_at:%d.%m.%Y %H:%M} UTC), а ваши правки сделаны на версии "
        f"№{parent}. Обновите страницу: правки других записей применятся, а при правке той же "
        "записи вы увидите, что изменилось."
    )


def _aware(now: datetime | None) -> datetime:
    at = now or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("pass a timezone-aware datetime")
    return at


def _audit_row(
    at: datetime,
    author: str,
    action: str,
    entry_id: str | None,
    version_id: int | None,
    detail: dict[str, Any],
) -> KbAuditRow:
    return KbAuditRow(
        at=at,
        author=author,
        action=action,
        entry_id=entry_id,
        version_id=version_id,
        detail=detail,
    )


def _version(row: KbVersionRow) -> KbVersion:
    return KbVersion(
        id=row.id,
        created_at=row.created_at,
        author=row.author,
        message=row.message,
        files=dict(row.files),
        content_hash=row.content_hash,
        parent_id=row.parent_id,
        published=row.published,
        published_at=row.published_at,
    )


def _audit(row: KbAuditRow) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=row.at,
        author=row.author,
        action=row.action,
        entry_id=row.entry_id,
        version_id=row.version_id,
        detail=dict(row.detail),
    )
