"""`voicebot users ...`: console users (operators, supervisors, admins) from the command line.

The password of `add` and `passwd` is asked for twice without echo, or read from the
environment variable VOICEBOT_NEW_PASSWORD (for scripts; it never appears on a command line).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from voicebot.auth import ROLE_TITLES, ROLES, STATUS_TITLES, password_problem
from voicebot.errors import VoicebotError

if TYPE_CHECKING:
    from voicebot.store.users import UserStore

PASSWORD_ENV = "VOICEBOT_NEW_PASSWORD"
F = TypeVar("F", bound=Callable[..., Any])


def _database_option(func: F) -> F:
    option = click.option(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of the database (default: VOICEBOT_DATABASE_URL or the SQLite file "
        "in VOICEBOT_DATA_DIR).",
    )
    return option(func)


@contextmanager
def _store(database_url: str | None) -> Iterator[UserStore]:
    """Open the user store; the product's errors become one Russian line and exit code 1."""
    from voicebot.config import Settings
    from voicebot.store import default_database_url
    from voicebot.store.users import UserStore

    try:
        settings = Settings()
        url = database_url or settings.database_url or default_database_url(settings.data_dir)
        with UserStore(url) as store:
            yield store
    except VoicebotError as exc:
        click.echo(f"ошибка [{exc.code}]: {exc}", err=True)
        sys.exit(1)


def _new_password() -> str:
    """From VOICEBOT_NEW_PASSWORD, else asked twice without echo (until it is acceptable)."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    while True:
        password: str = click.prompt(
            "Пароль", hide_input=True, confirmation_prompt="Пароль ещё раз"
        )
        problem = password_problem(password)
        if problem is None:
            return password
        click.echo(problem, err=True)


@click.group("users")
def users_group() -> None:
    """Console users: operators, supervisors and admins."""


@users_group.command("add")
@click.argument("login")
@click.option("--name", required=True, help="Full name, shown in the console.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="operator",
    show_default=True,
    help="operator, supervisor (+ all calls and presence) or admin (+ users).",
)
@click.option("--extension", default="", help="PBX extension or queue taken calls go to.")
@click.option("--topics", default="", help="Comma-separated topics served (default: all).")
@_database_option
def add_command(
    login: str, name: str, role: str, extension: str, topics: str, database_url: str | None
) -> None:
    """Create a console user."""
    password = _new_password()
    with _store(database_url) as store:
        operator = store.create(
            login, name, role, password, extension=extension, topics=topics.split(",")
        )
    click.echo(
        f"создан пользователь {operator.login} ({ROLE_TITLES[operator.role]}): {operator.name}"
    )


@users_group.command("list")
@_database_option
def list_command(database_url: str | None) -> None:
    """List console users."""
    with _store(database_url) as store:
        records = store.list()
    if not records:
        click.echo("пользователей нет: создайте первого командой `voicebot users add`")
        return
    for record in records:
        op = record.operator
        state = STATUS_TITLES[op.status] if record.active else "отключён"
        click.echo(
            f"{op.login:<16} {ROLE_TITLES[op.role]:<14} {op.extension or '-':<8} "
            f"{','.join(op.topics) or 'все темы':<20} {state:<14} {op.name}"
        )


@users_group.command("passwd")
@click.argument("login")
@_database_option
def passwd_command(login: str, database_url: str | None) -> None:
    """Set a user's password (their console sessions end)."""
    password = _new_password()
    with _store(database_url) as store:
        store.set_password(login, password)
    click.echo(f"пароль пользователя {login} изменён")


@users_group.command("disable")
@click.argument("login")
@_database_option
def disable_command(login: str, database_url: str | None) -> None:
    """Deactivate a user: no more logins, their sessions end."""
    with _store(database_url) as store:
        store.deactivate(login)
    click.echo(f"пользователь {login} отключён: войти он больше не сможет, его сессии закрыты")
