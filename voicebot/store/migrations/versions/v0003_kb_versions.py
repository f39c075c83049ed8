"""Knowledge-base versions and their audit log (the editor).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Types are spelled out here (not imported from schema.py) so this revision stays what it was
when later revisions change the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
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
    """Create kb_versions and kb_audit."""
    op.create_table(
        "kb_versions",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("files", _json(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("parent_id", _id(), nullable=True),
        sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("published_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_versions")),
        sa.UniqueConstraint("parent_id", name=op.f("uq_kb_versions_parent_id")),
    )
    op.create_index("ix_kb_versions_published_at", "kb_versions", ["published_at"])
    op.create_table(
        "kb_audit",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=True),
        sa.Column("version_id", _id(), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_audit")),
    )
    op.create_index("ix_kb_audit_at", "kb_audit", ["at"])
    op.create_index("ix_kb_audit_entry_id_at", "kb_audit", ["entry_id", "at"])


def downgrade() -> None:
    """Drop the two tables."""
    op.drop_index("ix_kb_audit_entry_id_at", table_name="kb_audit")
    op.drop_index("ix_kb_audit_at", table_name="kb_audit")
    op.drop_table("kb_audit")
    op.drop_index("ix_kb_versions_published_at", table_name="kb_versions")
    op.drop_table("kb_versions")
