"""UserStore on SQLite and PostgreSQL: console users, password checks, sessions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from voicebot.auth import ScryptParams, hash_params
from voicebot.queue import Operator
from voicebot.store.schema import ConsoleSessionRow, OperatorRow, normalise_url
from voicebot.store.users import (
    UserError,
    UserExistsError,
    UserNotFoundError,
    UserStore,
)

pytest_plugins = (f"{__package__}.db" if __package__ else "db",)

CHEAP = ScryptParams(log_n=4)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=30)


@pytest.fixture
def users(database_url: str) -> Iterator[UserStore]:
    store = UserStore(database_url, scrypt=CHEAP, max_age=timedelta(hours=12))
    yield store
    store.close()


def _rows(url: str) -> tuple[list[ConsoleSessionRow], list[OperatorRow]]:
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    try:
        with Session(engine) as session:
            return (
                list(session.scalars(select(ConsoleSessionRow))),
                list(session.scalars(select(OperatorRow))),
            )
    finally:
        engine.dispose()


def test_create_get_list(users: UserStore) -> None:
    created = users.create(
        " Ivanova ",
        "Анна Иванова",
        "operator",
        "пароль-анны",
        extension="101",
        topics=["billing", "tech", "billing"],
        now=T0,
    )
    assert created == Operator(
        login="ivanova",
        name="Анна Иванова",
        role="operator",
        extension="101",
        topics=("billing", "tech"),
        status="offline",
    )
    users.create("boss", "Пётр Петров", "supervisor", "пароль-петра", now=T0)
    record = users.get("IVANOVA")
    assert record is not None
    assert record.operator == created and record.active and record.created_at == T0
    assert record.last_seen is None
    assert [r.operator.login for r in users.list()] == ["boss", "ivanova"]
    assert users.get("nobody") is None


@pytest.mark.parametrize(
    ("login", "name", "role", "password", "message"),
    [
        ("иванова", "Анна", "operator", "пароль-анны", "логин"),
        ("anna", "  ", "operator", "пароль-анны", "имя"),
        ("anna", "Анна", "root", "пароль-анны", "неизвестная роль"),
        ("anna", "Анна", "operator", "short", "пароль слишком короткий"),
    ],
)
def test_create_refuses_invalid_input_in_russian(
    users: UserStore, login: str, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        users.create(login, name, role, password, now=T0)
    assert users.list() == []


def test_duplicate_login_is_refused(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    with pytest.raises(UserExistsError, match="уже есть"):
        users.create("ANNA", "Другая Анна", "admin", "другой-пароль", now=T0)
    record = users.get("anna")
    assert record is not None and record.operator.role == "operator"


def test_password_is_stored_only_as_a_scrypt_hash(users: UserStore, database_url: str) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    _, operators = _rows(database_url)
    assert len(operators) == 1
    assert "пароль-анны" not in operators[0].password_hash
    assert operators[0].password_hash.startswith("scrypt$ln=4,r=8,p=1$")


def test_verify(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", extension="101", now=T0)
    operator = users.verify("Anna", "пароль-анны")
    assert operator is not None and operator.login == "anna" and operator.extension == "101"
    assert users.verify("anna", "пароль-анны ") is None
    assert users.verify("nobody", "пароль-анны") is None


def test_deactivated_user_cannot_sign_in_and_loses_sessions(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    token = users.open_session("anna", T0, TTL)
    users.deactivate("anna")
    assert users.verify("anna", "пароль-анны") is None
    assert users.session(token, T0) is None
    with pytest.raises(UserNotFoundError):
        users.open_session("anna", T0, TTL)
    record = users.get("anna")
    assert record is not None and not record.active
    assert [r.operator.login for r in users.list(include_inactive=False)] == []
    with pytest.raises(UserNotFoundError):
        users.deactivate("nobody")


def test_set_password_ends_sessions(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    token = users.open_session("anna", T0, TTL)
    users.set_password("anna", "новый-пароль")
    assert users.session(token, T0) is None
    assert users.verify("anna", "пароль-анны") is None
    assert users.verify("anna", "новый-пароль") is not None
    with pytest.raises(UserError, match="короткий"):
        users.set_password("anna", "123")
    with pytest.raises(UserNotFoundError):
        users.set_password("nobody", "новый-пароль")


def test_weaker_hash_is_upgraded_on_login(database_url: str) -> None:
    with UserStore(database_url, scrypt=CHEAP) as weak:
        weak.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    with UserStore(database_url, scrypt=ScryptParams(log_n=6)) as strong:
        assert strong.verify("anna", "пароль-анны") is not None
    _, operators = _rows(database_url)
    assert hash_params(operators[0].password_hash) == ScryptParams(log_n=6)


def test_session_token_is_random_and_only_its_hash_is_stored(
    users: UserStore, database_url: str
) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    first = users.open_session("anna", T0, TTL)
    second = users.open_session("anna", T0, TTL)
    assert first != second and len(first) >= 43
    sessions, _ = _rows(database_url)
    stored = {row.token_hash for row in sessions}
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in (first, second)}
    assert first not in stored and second not in stored
    operator = users.session(first, T0 + timedelta(minutes=1))
    assert operator is not None and operator.login == "anna"
    assert users.session("forged-token", T0) is None


def test_session_expires_when_idle_and_slides_with_use(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    token = users.open_session("anna", T0, TTL)
    # Used every 20 minutes: each use moves the expiry 30 minutes on.
    for minutes in (20, 40, 60, 80):
        assert users.session(token, T0 + timedelta(minutes=minutes)) is not None
    assert users.session(token, T0 + timedelta(minutes=80 + 29)) is not None
    assert users.session(token, T0 + timedelta(minutes=109 + 31)) is None
    # An expired session is gone, even if asked about with an earlier time.
    assert users.session(token, T0 + timedelta(minutes=100)) is None


def test_idle_session_expires_exactly_after_ttl(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    token = users.open_session("anna", T0, TTL)
    assert users.session(token, T0 + TTL - timedelta(seconds=1)) is not None
    other = users.open_session("anna", T0, TTL)
    assert users.session(other, T0 + TTL) is None


def test_session_lives_at_most_max_age(database_url: str) -> None:
    with UserStore(database_url, scrypt=CHEAP, max_age=timedelta(hours=1)) as users:
        users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
        token = users.open_session("anna", T0, TTL)
        for minutes in range(10, 60, 10):
            assert users.session(token, T0 + timedelta(minutes=minutes)) is not None
        assert users.session(token, T0 + timedelta(minutes=60)) is None


def test_close_session_and_purge(users: UserStore, database_url: str) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    token = users.open_session("anna", T0, TTL)
    users.close_session(token)
    users.close_session(token)  # twice is fine
    assert users.session(token, T0) is None
    users.open_session("anna", T0, TTL)
    users.open_session("anna", T0 + timedelta(hours=1), TTL)
    assert users.purge_sessions(T0 + timedelta(minutes=45)) == 1
    sessions, _ = _rows(database_url)
    assert len(sessions) == 1


def test_touch_records_last_seen(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    users.touch("anna", T0 + timedelta(seconds=20))
    record = users.get("anna")
    assert record is not None and record.last_seen == T0 + timedelta(seconds=20)


def test_naive_times_are_refused(users: UserStore) -> None:
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    with pytest.raises(Exception, match="timezone-aware"):
        users.open_session("anna", datetime(2026, 1, 1), TTL)


# --- `voicebot users ...` ----------------------------------------------------------------------


def test_cli_add_list_passwd_disable(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from voicebot.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    env = {"VOICEBOT_NEW_PASSWORD": "пароль-из-скрипта"}
    added = runner.invoke(
        main,
        [
            "users",
            "add",
            "Ivanova",
            "--name",
            "Анна Иванова",
            "--extension",
            "101",
            "--topics",
            "billing,tech",
            "--database-url",
            url,
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert added.output == "создан пользователь ivanova (оператор): Анна Иванова\n"
    # Without the variable the password is asked twice, without echo.
    prompted = runner.invoke(
        main,
        ["users", "add", "boss", "--name", "Пётр Петров", "--role", "admin", "--database-url", url],
        input="1234567\n1234567\nнадёжный-пароль\nнадёжный-пароль\n",
        env={"VOICEBOT_NEW_PASSWORD": None},
    )
    assert prompted.exit_code == 0, prompted.output
    assert "создан пользователь boss (администратор)" in prompted.output
    assert "пароль слишком короткий" in prompted.output  # asked again
    duplicate = runner.invoke(
        main, ["users", "add", "boss", "--name", "X", "--database-url", url], env=env
    )
    assert duplicate.exit_code == 1
    assert "ошибка [user_exists]: пользователь с логином 'boss' уже есть" in duplicate.output
    listed = runner.invoke(main, ["users", "list", "--database-url", url])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split()[:3] == ["boss", "администратор", "-"]
    assert lines[1].split()[:4] == ["ivanova", "оператор", "101", "billing,tech"]
    changed = runner.invoke(
        main,
        ["users", "passwd", "ivanova", "--database-url", url],
        env={"VOICEBOT_NEW_PASSWORD": "новый-пароль-1"},
    )
    assert changed.exit_code == 0, changed.output
    disabled = runner.invoke(main, ["users", "disable", "ivanova", "--database-url", url])
    assert disabled.exit_code == 0
    with UserStore(url, scrypt=CHEAP) as users:
        assert users.verify("boss", "надёжный-пароль") is not None
        record = users.get("ivanova")
        assert record is not None and not record.active
        assert users.verify("ivanova", "новый-пароль-1") is None
    missing = runner.invoke(main, ["users", "disable", "nobody", "--database-url", url])
    assert missing.exit_code == 1 and "user_not_found" in missing.output


def test_unknown_login_still_costs_a_password_check(
    users: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voicebot.store.users as module
    from voicebot.auth import verify_password as real

    checked: list[str] = []

    def counting(password: str, encoded: str) -> bool:
        checked.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(module, "verify_password", counting)
    users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
    users.deactivate("anna", now=T0)
    assert users.verify("nobody", "пароль-анны") is None
    assert users.verify("anna", "пароль-анны") is None  # deactivated: the same dummy check
    assert len(checked) == 2 and checked[0] == checked[1]
    assert checked[0].startswith("scrypt$ln=4,")  # at the store's own cost


def test_deactivate_takes_the_user_offline_and_bumps_the_queue_version(database_url: str) -> None:
    from voicebot.store.queue import QueueStore

    with UserStore(database_url, scrypt=CHEAP) as users, QueueStore(database_url) as queue:
        users.create("anna", "Анна", "operator", "пароль-анны", now=T0)
        queue.set_presence("anna", "available", T0)
        before = queue.version()
        users.deactivate("anna", now=T0 + timedelta(minutes=1))
        assert queue.version() == before + 1
        record = users.get("anna")
        assert record is not None and record.operator.status == "offline"
        assert record.status_since == T0 + timedelta(minutes=1)
