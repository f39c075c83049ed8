"""Calls and their turns.

Revision ID: 0001
Revises:
Create Date: 2025-11-23

Types are spelled out here (not imported from schema.py) so this revision stays what it was
when later revisions change the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    """JSONB on PostgreSQL, JSON text elsewhere."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _utc() -> sa.DateTime:
    """timestamptz on PostgreSQL; UTC text on SQLite (the store converts)."""
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `calls` and `turns` with the indexes reports and the summary card need."""
    op.create_table(
        "calls",
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("called", sa.Text(), nullable=False),
        sa.Column("codec", sa.Text(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("answered_at", _utc(), nullable=True),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("escalation_reason", sa.Text(), nullable=True),
        sa.Column("escalation_topic", sa.Text(), nullable=True),
        sa.Column("escalation_priority", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("kb_version", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_calls")),
    )
    op.create_index(op.f("ix_calls_started_at"), "calls", ["started_at"])
    op.create_index(op.f("ix_calls_caller_started_at"), "calls", ["caller", "started_at"])
    op.create_table(
        "turns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("entry_id", sa.Text(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("scores", _json(), nullable=True),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("alternatives", _json(), nullable=False),
        sa.Column("heard", sa.Boolean(), nullable=True),
        sa.Column("interrupted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.call_id"], name=op.f("fk_turns_call_id_calls"), ondelete="CASCADE"
        ),
        # Also serves "the turns of a call, in order".
        sa.UniqueConstraint("call_id", "seq", name=op.f("uq_turns_call_id_seq")),
        sa.CheckConstraint("role IN ('caller', 'bot', 'operator')", name=op.f("ck_turns_role")),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('answer', 'clarify', 'escalate')",
            name=op.f("ck_turns_decision"),
        ),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("turns")
    op.drop_index(op.f("ix_calls_caller_started_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_started_at"), table_name="calls")
    op.drop_table("calls")
