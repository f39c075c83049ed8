"""UserStore: console users (operators, supervisors, admins) and their signed-in sessions.

Same conventions as CallStore: one Engine, one short transaction per method, thread-safe and
synchronous (call it through `asyncio.to_thread` from the event loop); SQLite or PostgreSQL.

- Logins are stored lower-cased. Users are never deleted (calls and callbacks name them):
  `deactivate` refuses them further logins and ends their sessions.
- Passwords are kept only as scrypt hashes (voicebot.auth). `verify` takes as long for an
  unknown or deactivated login as for a wrong password, and re-hashes a password stored with
  weaker parameters than the store's on a successful login.
- A session token is 32 random bytes (URL-safe base64); only its SHA-256 is stored, so a copy of
  the database does not sign anyone in. A session expires after `ttl` without use (each use
  slides it, written at most every `touch_every`) and at the latest `max_age` after sign-in.
  Changing a password or deactivating a user ends all of their sessions.
- Validation messages are Russian: admins read them in the console and the CLI.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from voicebot.auth import (
    DEFAULT_SCRYPT,
    ROLE_TITLES,
    ROLES,
    ScryptParams,
    hash_params,
    hash_password,
    login_problem,
    normalise_login,
    password_problem,
    verify_password,
)
from voicebot.queue import Operator, OperatorStatus, Role
from voicebot.store.database import Database, StoreError
from voicebot.store.schema import (
    ConsoleSessionRow,
    OperatorRow,
    QueueVersionRow,
)

TOKEN_BYTES = 32


class UserError(StoreError):
    """A console user cannot be created or changed as asked (the message says why, in Russian)."""

    code = "user_error"


class UserExistsError(UserError):
    """A user with this login already exists."""

    code = "user_exists"


class UserNotFoundError(UserError):
    """No user with this login."""

    code = "user_not_found"


@dataclass(frozen=True)
class UserRecord:
    """A console user as the admin sees it: the operator, whether active, and presence times."""

    operator: Operator
    active: bool
    created_at: datetime
    status_since: datetime | None
    last_seen: datetime | None


def token_hash(token: str) -> str:
    """What is stored of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore(Database):
    """Console users and sessions; thread-safe, one database session per method."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        busy_timeout: float = 30.0,
        scrypt: ScryptParams = DEFAULT_SCRYPT,
        max_age: timedelta = timedelta(hours=12),
        touch_every: timedelta = timedelta(seconds=30),
    ) -> None:
        """Connect to `url`; new password hashes use `scrypt`; sessions live at most `max_age`."""
        super().__init__(url, migrate=migrate, busy_timeout=busy_timeout)
        self._scrypt = scrypt
        self._max_age = max_age
        self._touch_every = touch_every
        # Verified against for unknown logins, so they cost what a wrong password costs (made
        # on first use: commands that never verify do not pay for it).
        self._dummy_hash: str | None = None
        self._dummy_lock = threading.Lock()

    # --- users -------------------------------------------------------------------------------

    def create(
        self,
        login: str,
        name: str,
        role: str,
        password: str,
        extension: str = "",
        topics: Sequence[str] = (),
        *,
        now: datetime | None = None,
    ) -> Operator:
        """Add an active user; a taken login raises UserExistsError."""
        login = normalise_login(login)
        problem = login_problem(login) or password_problem(password)
        if problem is not None:
            raise UserError(problem)
        name = name.strip()
        if not name:
            raise UserError("укажите имя пользователя")
        if role not in ROLES:
            titles = ", ".join(f"{r} ({ROLE_TITLES[r]})" for r in ROLES)
            raise UserError(f"неизвестная роль {role!r}: допустимы {titles}")
        row = OperatorRow(
            login=login,
            name=name,
            role=role,
            password_hash=hash_password(password, self._scrypt),
            extension=extension.strip(),
            topics=_topics(topics),
            active=True,
            created_at=_aware(now or datetime.now(UTC)),
            status="offline",
        )
        with self._session("create user", write=True) as session:
            if session.get(OperatorRow, login) is not None:
                raise UserExistsError(f"пользователь с логином {login!r} уже есть")
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise UserExistsError(f"пользователь с логином {login!r} уже есть") from exc
        return _operator(row)

    def get(self, login: str) -> UserRecord | None:
        """The user (active or not), or None."""
        with self._session("get user", write=False) as session:
            row = session.get(OperatorRow, normalise_login(login))
            return None if row is None else _record(row)

    def list(self, *, include_inactive: bool = True) -> builtins.list[UserRecord]:
        """Every user by login (only active ones unless `include_inactive`)."""
        query = select(OperatorRow).order_by(OperatorRow.login)
        if not include_inactive:
            query = query.where(OperatorRow.active.is_(True))
        with self._session("list users", write=False) as session:
            return [_record(row) for row in session.scalars(query)]

    def set_password(self, login: str, password: str) -> None:
        """Replace the user's password and end all of their sessions."""
        problem = password_problem(password)
        if problem is not None:
            raise UserError(problem)
        encoded = hash_password(password, self._scrypt)
        login = normalise_login(login)
        with self._session("set password", write=True) as session:
            row = session.get(OperatorRow, login, with_for_update=True)
            if row is None:
                raise UserNotFoundError(f"нет пользователя с логином {login!r}")
            row.password_hash = encoded
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.login == login))

    def deactivate(self, login: str, *, now: datetime | None = None) -> None:
        """Refuse the user further logins, end their sessions and mark them offline (the row
        stays); the queue version is bumped, as for any change of presence."""
        login = normalise_login(login)
        now = _aware(now or datetime.now(UTC))
        with self._session("deactivate user", write=True) as session:
            row = session.get(OperatorRow, login, with_for_update=True)
            if row is None:
                raise UserNotFoundError(f"нет пользователя с логином {login!r}")
            row.active = False
            if row.status != "offline":
                row.status = "offline"
                row.status_since = now
                session.execute(
                    update(QueueVersionRow)
                    .where(QueueVersionRow.id == 1)
                    .values(version=QueueVersionRow.version + 1)
                )
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.login == login))

    def verify(self, login: str, password: str) -> Operator | None:
        """The active user with this login and password, else None (in about the same time)."""
        login = normalise_login(login)
        with self._session("verify", write=False) as session:
            row = session.get(OperatorRow, login)
            stored = row.password_hash if row is not None and row.active else None
        if stored is None:
            verify_password(password, self._dummy())
            return None
        if not verify_password(password, stored):
            return None
        if _weaker(hash_params(stored), self._scrypt):
            self._rehash(login, stored, password)
        assert row is not None
        return _operator(row)

    def _dummy(self) -> str:
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = hash_password(secrets.token_urlsafe(16), self._scrypt)
            return self._dummy_hash

    def _rehash(self, login: str, stored: str, password: str) -> None:
        encoded = hash_password(password, self._scrypt)
        with self._session("rehash", write=True) as session:
            # Only if nobody changed the password in the meantime.
            session.execute(
                update(OperatorRow)
                .where(OperatorRow.login == login, OperatorRow.password_hash == stored)
                .values(password_hash=encoded)
            )

    def touch(self, login: str, now: datetime) -> None:
        """Record that the user's console is alive (presence heartbeat: `last_seen`)."""
        with self._session("touch", write=True) as session:
            session.execute(
                update(OperatorRow)
                .where(OperatorRow.login == normalise_login(login))
                .values(last_seen=_aware(now))
            )

    # --- sessions ----------------------------------------------------------------------------

    def open_session(self, login: str, now: datetime, ttl: timedelta) -> str:
        """Sign an active user in: a new random token (only its hash is stored)."""
        if ttl <= timedelta(0):
            raise UserError(f"время жизни сессии должно быть положительным, а не {ttl}")
        now = _aware(now)
        login = normalise_login(login)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._session("open session", write=True) as session:
            row = session.get(OperatorRow, login)
            if row is None or not row.active:
                raise UserNotFoundError(f"нет активного пользователя с логином {login!r}")
            session.add(
                ConsoleSessionRow(
                    token_hash=token_hash(token),
                    login=login,
                    created_at=now,
                    expires_at=min(now + ttl, now + self._max_age),
                    last_seen=now,
                )
            )
        return token

    def session(self, token: str, now: datetime) -> Operator | None:
        """The user signed in with `token`, sliding its expiry; None if unknown, expired or the
        user was deactivated (an expired session is deleted)."""
        now = _aware(now)
        key = token_hash(token)
        with self._session("read session", write=False) as session:
            found = session.execute(
                select(ConsoleSessionRow, OperatorRow)
                .join(OperatorRow, OperatorRow.login == ConsoleSessionRow.login)
                .where(ConsoleSessionRow.token_hash == key)
            ).one_or_none()
        if found is None:
            return None
        row, user = cast(tuple[ConsoleSessionRow, OperatorRow], tuple(found))
        if now >= row.expires_at or not user.active:
            self.close_session(token)
            return None
        if now - row.last_seen >= self._touch_every:
            # expires_at - last_seen is the idle ttl the session was opened with.
            ttl = row.expires_at - row.last_seen
            expires = min(now + ttl, row.created_at + self._max_age)
            with self._session("slide session", write=True) as session:
                session.execute(
                    update(ConsoleSessionRow)
                    .where(ConsoleSessionRow.token_hash == key, ConsoleSessionRow.last_seen < now)
                    .values(last_seen=now, expires_at=expires)
                )
        return _operator(user)

    def close_session(self, token: str) -> None:
        """Sign out (an unknown token is fine)."""
        with self._session("close session", write=True) as session:
            session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == token_hash(token))
            )

    def purge_sessions(self, now: datetime) -> int:
        """Delete expired sessions; how many."""
        with self._session("purge sessions", write=True) as session:
            result = session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= _aware(now))
            )
            return int(getattr(result, "rowcount", 0) or 0)


def _weaker(stored: ScryptParams | None, wanted: ScryptParams) -> bool:
    """Whether any cost parameter of a stored hash is below the store's."""
    if stored is None:
        return False
    pairs = (
        (stored.log_n, wanted.log_n),
        (stored.r, wanted.r),
        (stored.p, wanted.p),
        (stored.salt_bytes, wanted.salt_bytes),
        (stored.key_bytes, wanted.key_bytes),
    )
    return any(have < want for have, want in pairs)


def _topics(topics: Sequence[str]) -> list[str]:
    if isinstance(topics, str):
        topics = [topics]
    cleaned = [t.strip() for t in topics if t.strip()]
    return list(dict.fromkeys(cleaned))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"naive datetime {value.isoformat()}: pass a timezone-aware one")
    return value.astimezone(UTC)


def _operator(row: OperatorRow) -> Operator:
    return Operator(
        login=row.login,
        name=row.name,
        role=cast(Role, row.role),
        extension=row.extension or "",
        topics=tuple(row.topics or ()),
        status=cast(OperatorStatus, row.status or "offline"),
    )


def _record(row: OperatorRow) -> UserRecord:
    return UserRecord(
        operator=_operator(row),
        active=bool(row.active),
        created_at=row.created_at,
        status_since=row.status_since,
        last_seen=row.last_seen,
    )
