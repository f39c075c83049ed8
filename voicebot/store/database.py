"""What every store shares: the engine (and its write variant), migration to head, one
transaction per operation with database failures turned into the store's own error."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Self

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from voicebot.errors import VoicebotError
from voicebot.store.schema import is_memory_sqlite, make_engine


class StoreError(VoicebotError):
    """A store refused an operation or the database failed."""

    code = "store_error"


class Database:
    """Base of the stores: thread-safe, one database session per method."""

    error: type[StoreError] = StoreError  # what database failures become

    def __init__(self, url: str, *, migrate: bool = True, busy_timeout: float = 30.0) -> None:
        """Connect to `url` (SQLAlchemy URL) and, unless told not to, migrate it to head."""
        try:
            self._engine = make_engine(url, busy_timeout=busy_timeout)
        except SQLAlchemyError as exc:
            raise self.error(f"cannot use database URL {url!r}: {exc}") from exc
        self._writer = self._engine.execution_options(voicebot_write=True)
        # An in-memory SQLite database is one shared connection: one method at a time.
        self._serial: AbstractContextManager[Any] = (
            threading.Lock() if is_memory_sqlite(self._engine) else nullcontext()
        )
        if migrate:
            self._migrate()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy Engine (for other stores sharing the database)."""
        return self._engine

    def close(self) -> None:
        """Release every database connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        from alembic.util import CommandError

        from voicebot.store.migrations import migrate

        where = self._engine.url.render_as_string(hide_password=True)
        try:
            with self._serial:
                migrate(self._engine)
        except (SQLAlchemyError, CommandError) as exc:
            self._engine.dispose()
            raise self.error(f"cannot migrate the database {where}: {exc}") from exc

    @contextmanager
    def _session(self, what: str, *, write: bool) -> Iterator[Session]:
        """One transaction; database failures become the store's error naming the operation."""
        bind = self._writer if write else self._engine
        with self._serial:
            try:
                with Session(bind, expire_on_commit=False) as session, session.begin():
                    yield session
            except SQLAlchemyError as exc:
                raise self._failure(what, exc) from exc

    def _failure(self, what: str, exc: SQLAlchemyError) -> StoreError:
        """The error a failed operation raises (stores may refine it)."""
        return self.error(f"{what} failed: {exc}")
