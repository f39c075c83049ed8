"""Persistence of calls, turns and the operator queue (SQLAlchemy 2 + Alembic; SQLite or PostgreSQL)."""

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
    TurnNotFoundError,
    TurnRecord,
    default_database_url,
)
from voicebot.store.database import Database, StoreError
from voicebot.store.queue import QueueError, QueueStore

__all__ = [
    "DECISIONS",
    "OUTCOMES",
    "ROLES",
    "TURN_KINDS",
    "CallAlreadyEndedError",
    "CallNotFoundError",
    "CallRecord",
    "CallStore",
    "Database",
    "DuplicateCallError",
    "QueueError",
    "QueueStore",
    "StoreError",
    "TurnNotFoundError",
    "TurnRecord",
    "default_database_url",
]
