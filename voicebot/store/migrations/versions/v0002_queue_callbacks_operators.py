"""The operator queue, callbacks, console users and their sessions; the post-call rating.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Types are spelled out here (not imported from schema.py) so this revision stays what it was
when later revisions change the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    """JSONB on PostgreSQL, JSON text elsewhere."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _utc() -> sa.DateTime:
    """timestamptz on PostgreSQL; UTC text on SQLite (the store converts)."""
    return sa.DateTime(timezone=True)


def _id() -> sa.types.TypeEngine[int]:
    """64-bit ids on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create queue_entries, callbacks, operators, console_sessions and queue_version; add
    calls.rating."""
    op.add_column("calls", sa.Column("rating", sa.Integer(), nullable=True))
    op.create_table(
        "queue_entries",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_reasons", _json(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("card", _json(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("enqueued_at", _utc(), nullable=False),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column("extension", sa.Text(), nullable=True),
        sa.Column("taken_at", _utc(), nullable=True),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_entries")),
        sa.CheckConstraint(
            "state IN ('waiting', 'taken', 'closed', 'abandoned', 'callback')",
            name=op.f("ck_queue_entries_state"),
        ),
    )
    op.create_index(
        "ix_queue_entries_state_topic",
        "queue_entries",
        ["state", "topic", "priority", "enqueued_at"],
    )
    op.create_index("ix_queue_entries_call_id", "queue_entries", ["call_id"])
    op.create_index("ix_queue_entries_enqueued_at", "queue_entries", ["enqueued_at"])
    op.create_index("ix_queue_entries_taken_at", "queue_entries", ["taken_at"])
    op.create_table(
        "callbacks",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.Text(), nullable=True),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("deadline", _utc(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column("taken_at", _utc(), nullable=True),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.CheckConstraint(
            "state IN ('open', 'taken', 'done', 'failed', 'cancelled')",
            name=op.f("ck_callbacks_state"),
        ),
    )
    op.create_index("ix_callbacks_state_deadline", "callbacks", ["state", "deadline"])
    op.create_index("ix_callbacks_requested_at", "callbacks", ["requested_at"])
    op.create_index("ix_callbacks_call_id", "callbacks", ["call_id"])
    op.create_index("ix_callbacks_caller_closed_at", "callbacks", ["caller", "closed_at"])
    op.create_table(
        "operators",
        sa.Column("login", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("extension", sa.Text(), server_default="", nullable=False),
        sa.Column("topics", _json(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("status", sa.Text(), server_default="offline", nullable=False),
        sa.Column("status_since", _utc(), nullable=True),
        sa.Column("last_seen", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_operators")),
        sa.CheckConstraint(
            "role IN ('operator', 'supervisor', 'admin')", name=op.f("ck_operators_role")
        ),
        sa.CheckConstraint(
            "status IN ('offline', 'available', 'busy', 'away')", name=op.f("ck_operators_status")
        ),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("login", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("last_seen", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
        sa.ForeignKeyConstraint(
            ["login"],
            ["operators.login"],
            name=op.f("fk_console_sessions_login_operators"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_console_sessions_login", "console_sessions", ["login"])
    op.create_table(
        "queue_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", _id(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_version")),
    )
    op.execute("INSERT INTO queue_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    """Drop the five tables."""
    op.drop_table("queue_version")
    op.drop_index("ix_console_sessions_login", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("operators")
    for name in (
        "ix_callbacks_caller_closed_at",
        "ix_callbacks_call_id",
        "ix_callbacks_requested_at",
        "ix_callbacks_state_deadline",
    ):
        op.drop_index(name, table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index("ix_queue_entries_taken_at", table_name="queue_entries")
    op.drop_index("ix_queue_entries_enqueued_at", table_name="queue_entries")
    op.drop_index("ix_queue_entries_call_id", table_name="queue_entries")
    op.drop_index("ix_queue_entries_state_topic", table_name="queue_entries")
    op.drop_table("queue_entries")
    with op.batch_alter_table("calls") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("rating")
