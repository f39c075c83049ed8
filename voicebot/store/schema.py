"""The persistent tables (SQLAlchemy 2 ORM) and the engine factory shared by the store and migrations.

Column changes go through a new Alembic revision in `voicebot/store/migrations/versions/`;
`tests/test_store.py` checks that the migrated schema and these models agree on both backends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
    event,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Engine, create_engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

# Stable constraint and index names, so later revisions can alter them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")
# 64-bit ids on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (timestamptz; UTC text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Reject naive datetimes; store the UTC instant (naive UTC on SQLite, which drops zones)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware one")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Always hand back an aware datetime in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every voicebot table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CallRow(Base):
    """One telephone call, from the PBX's start event to its end."""

    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(Text, primary_key=True)
    caller: Mapped[str] = mapped_column(Text)
    called: Mapped[str] = mapped_column(Text)
    codec: Mapped[str] = mapped_column(Text)
    sample_rate: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)
    end_reason: Mapped[str | None] = mapped_column(Text)
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    escalation_topic: Mapped[str | None] = mapped_column(Text)
    escalation_priority: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    # `metadata` is taken by the declarative base: the attribute is `meta`, the column `metadata`.
    meta: Mapped[dict[str, str]] = mapped_column("metadata", JSON_TYPE)
    kb_version: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)  # post-call rating, 1-5

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_caller_started_at", "caller", "started_at"),
    )


class TurnRow(Base):
    """One line of a call: what the caller said or pressed, what the bot or an operator said."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(Text, ForeignKey("calls.call_id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    entry_id: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, float | None] | None] = mapped_column(JSON_TYPE)
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    alternatives: Mapped[list[str]] = mapped_column(JSON_TYPE)
    heard: Mapped[bool | None] = mapped_column(Boolean)
    interrupted: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (
        # Also the index for "the turns of a call, in order".
        UniqueConstraint("call_id", "seq"),
        CheckConstraint("role IN ('caller', 'bot', 'operator')", name="role"),
        CheckConstraint(
            "decision IS NULL OR decision IN ('answer', 'clarify', 'escalate')", name="decision"
        ),
    )


class QueueEntryRow(Base):
    """An escalated call waiting for, or served by, an operator (voicebot.queue.QueueEntry)."""

    __tablename__ = "queue_entries"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(Text)
    caller: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer)
    priority_reasons: Mapped[list[str]] = mapped_column(JSON_TYPE)
    reason: Mapped[str] = mapped_column(Text)
    card: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)
    state: Mapped[str] = mapped_column(Text)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    operator: Mapped[str | None] = mapped_column(Text)
    extension: Mapped[str | None] = mapped_column(Text)
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # "The waiting entries of a topic in serving order."
        Index("ix_queue_entries_state_topic", "state", "topic", "priority", "enqueued_at"),
        Index("ix_queue_entries_call_id", "call_id"),
        # Reports filter by period.
        Index("ix_queue_entries_enqueued_at", "enqueued_at"),
        Index("ix_queue_entries_taken_at", "taken_at"),
        CheckConstraint(
            "state IN ('waiting', 'taken', 'closed', 'abandoned', 'callback')", name="state"
        ),
    )


class CallbackRow(Base):
    """A promised call back (voicebot.queue.Callback)."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    call_id: Mapped[str | None] = mapped_column(Text)
    caller: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(Text)
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        Index("ix_callbacks_state_deadline", "state", "deadline"),
        Index("ix_callbacks_requested_at", "requested_at"),
        Index("ix_callbacks_call_id", "call_id"),
        Index("ix_callbacks_caller_closed_at", "caller", "closed_at"),
        CheckConstraint("state IN ('open', 'taken', 'done', 'failed', 'cancelled')", name="state"),
    )


class OperatorRow(Base):
    """A console user: operator, supervisor or admin (voicebot.queue.Operator)."""

    __tablename__ = "operators"

    login: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    extension: Mapped[str] = mapped_column(Text, server_default="")
    topics: Mapped[list[str]] = mapped_column(JSON_TYPE)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Presence, written by the console: offline | available | busy | away.
    status: Mapped[str] = mapped_column(Text, server_default="offline")
    status_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint("role IN ('operator', 'supervisor', 'admin')", name="role"),
        CheckConstraint("status IN ('offline', 'available', 'busy', 'away')", name="status"),
    )


class ConsoleSessionRow(Base):
    """A signed-in console session; only a hash of its token is kept."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    login: Mapped[str] = mapped_column(Text, ForeignKey("operators.login", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_console_sessions_login", "login"),)


class QueueVersionRow(Base):
    """One row whose `version` grows with every change to the queue, callbacks or presence:
    consoles and waiting calls in any bridge process poll it to know when to re-read."""

    __tablename__ = "queue_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BIG_ID, server_default="0")


def normalise_url(url: str | URL) -> URL:
    """Parse a SQLAlchemy URL; a bare `postgresql://` means psycopg 3 (the installed driver)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, busy_timeout: float = 30.0) -> Engine:
    """An engine safe to share between threads: SQLite in WAL mode with a busy timeout.

    SQLite write transactions begin IMMEDIATE (taking the write lock up front, so concurrent
    writers queue on the busy timeout instead of failing on a stale snapshot); reads stay
    DEFERRED. Write sessions opt in with `engine.execution_options(voicebot_write=True)`.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, json_serializer=_dump_json)
    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        json_serializer=_dump_json,
        # An in-memory database lives in one connection: share it (the store serialises use).
        **({"poolclass": StaticPool} if memory else {}),
    )
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is legacy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("voicebot_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def is_memory_sqlite(engine: Engine) -> bool:
    """Whether the engine is an in-memory SQLite database (one shared connection)."""
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


def _dump_json(value: object) -> str:
    """JSON with Cyrillic kept readable in the database."""
    return json.dumps(value, ensure_ascii=False)


class KbVersionRow(Base):
    """One saved version of the knowledge base: every source file's text (voicebot.kb_edit).

    Versions are never rewritten: a rollback is a new version with old content. `parent_id` is
    unique, so history is a line and two editors saving on the same parent cannot both win."""

    __tablename__ = "kb_versions"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    author: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, server_default="")
    files: Mapped[dict[str, str]] = mapped_column(JSON_TYPE)  # relative path -> text
    content_hash: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(BIG_ID)
    published: Mapped[bool] = mapped_column(Boolean, server_default=false())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("parent_id"),
        Index("ix_kb_versions_published_at", "published_at"),
    )


class KbAuditRow(Base):
    """One line of the knowledge base's audit log: who did what to which entry, when."""

    __tablename__ = "kb_audit"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    author: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[str | None] = mapped_column(Text)
    version_id: Mapped[int | None] = mapped_column(BIG_ID)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)

    __table_args__ = (
        Index("ix_kb_audit_at", "at"),
        Index("ix_kb_audit_entry_id_at", "entry_id", "at"),
    )
