"""Throw-away databases for tests: a temp-file SQLite, or real PostgreSQL.

PostgreSQL is the local server (`VOICEBOT_TEST_POSTGRES_URL`, default trust-auth postgres on
127.0.0.1:5432). Each test session creates one uniquely named database `voicebot_test_<hex>`
and drops it at the end; each test gets a fresh schema inside it (cheap, and as empty as a new
database). When the server is unreachable the PostgreSQL cases skip with the reason.

Use the fixtures by registering this module as a plugin, named the way the test module itself
was imported (`tests/` has no __init__.py, so that is "db" today):
`pytest_plugins = (f"{__package__}.db" if __package__ else "db",)` in a test module (or once in
the root conftest). Fixtures:
- `database_url`: parametrised `sqlite` / `postgresql`, an empty database per test;
- `postgres_database`: the session's PostgreSQL database URL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

ADMIN_URL_ENV = "VOICEBOT_TEST_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


def postgres_admin_url() -> str:
    """The URL of a PostgreSQL database we may create and drop databases from."""
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def postgres_unreachable_reason(admin_url: str) -> str | None:
    """None when PostgreSQL answers at `admin_url`, else why not (for pytest.skip)."""
    engine = create_engine(admin_url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except SQLAlchemyError as exc:
        where = make_url(admin_url).render_as_string(hide_password=True)
        first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]
        return f"PostgreSQL not reachable at {where} ({first_line}); set {ADMIN_URL_ENV}"
    finally:
        engine.dispose()


@contextmanager
def throwaway_postgres_database(admin_url: str, prefix: str = "voicebot_test") -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it (even with open connections)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def throwaway_postgres_schema(database_url: str) -> Iterator[str]:
    """Create a fresh schema, yield a URL whose search_path is only that schema, drop it."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve()}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One throw-away PostgreSQL database for the test session (skips if unreachable)."""
    admin_url = postgres_admin_url()
    reason = postgres_unreachable_reason(admin_url)
    if reason is not None:
        pytest.skip(reason)
    with throwaway_postgres_database(admin_url) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for one test: a temp SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "test.db")
        return
    database = request.getfixturevalue("postgres_database")
    with throwaway_postgres_schema(database) as url:
        yield url
