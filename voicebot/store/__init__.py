"""Persistence of calls and turns (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL too)."""

from voicebot.store.calls import (
    DECISIONS,
    OUTCOMES,
    ROLES,
    TURN_KINDS,
    CallAlreadyEndedError,
    CallNotFoundError,
    CallRecord,
    CallStore,
    DuplicateCallError,
    StoreError,
    TurnNotFoundError,
    TurnRecord,
    default_database_url,
)

__all__ = [
    "DECISIONS",
    "OUTCOMES",
    "ROLES",
    "TURN_KINDS",
    "CallAlreadyEndedError",
    "CallNotFoundError",
    "CallRecord",
    "CallStore",
    "DuplicateCallError",
    "StoreError",
    "TurnNotFoundError",
    "TurnRecord",
    "default_database_url",
]
