"""Alembic migrations shipped inside the package, configured in code (no alembic.ini).

`migrate(url)` brings a database to the newest revision; it is safe to run on every start-up
and from several processes at once (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE).

A later issue adds a revision as `versions/vNNNN_<slug>.py` with `revision = "NNNN"` and
`down_revision` the previous one; to draft it from the models:
`command.revision(alembic_config(conn), "message", autogenerate=True, rev_id="NNNN")`
over a connection to a database at head.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine

from voicebot.store.schema import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
# pg_advisory_xact_lock key serialising concurrent migrations ("vbot" in ASCII).
_PG_LOCK_KEY = 0x76626F74


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for our scripts, bound to `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of voicebot."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError(f"no Alembic revisions in {MIGRATIONS_DIR}")
    return head


def migrate(target: str | URL | Engine) -> None:
    """Upgrade the database at `target` (URL or engine) to head; a database at head is untouched."""
    with _locked(target) as connection:
        command.upgrade(alembic_config(connection), "head")


def downgrade(target: str | URL | Engine, revision: str = "base") -> None:
    """Downgrade to `revision` ("base" drops every voicebot table, and its data)."""
    with _locked(target) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, or None for an empty (never migrated) database."""
    with _engine(target) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _engine(target: str | URL | Engine) -> Iterator[Engine]:
    """The given engine, or a short-lived one for a URL."""
    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _locked(target: str | URL | Engine) -> Iterator[Connection]:
    """One write transaction that no other migrating process can enter at the same time."""
    with _engine(target) as engine, engine.execution_options(voicebot_write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        yield conn
