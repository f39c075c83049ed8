"""What the console needs of the stores (protocols), its settings, and the Russian titles it shows.

`voicebot.store.queue.QueueStore` and `voicebot.store.CallStore` satisfy the protocols; tests may
pass anything else that does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Protocol

from voicebot.auth import ThrottleSettings
from voicebot.queue import (
    PRIORITY_REPEAT_CALLER,
    PRIORITY_URGENT_TOPIC,
    PRIORITY_VIP,
    Callback,
    Operator,
    OperatorStatus,
    QueueEntry,
)
from voicebot.store.calls import CallRecord, TurnRecord


class ConsoleQueue(Protocol):
    """The queue store as the console uses it (see voicebot.store.queue.QueueStore)."""

    def waiting(self, topics: Sequence[str] | None = None) -> list[QueueEntry]:
        """Waiting entries in serving order."""
        ...

    def active(self, operator: str | None = None) -> list[QueueEntry]:
        """Taken, not closed entries."""
        ...

    def entry(self, entry_id: int) -> QueueEntry | None:
        """One entry."""
        ...

    def take(
        self, entry_id: int, operator: str, extension: str, now: datetime
    ) -> QueueEntry | None:
        """Atomic take; None if it was no longer waiting."""
        ...

    def take_next(
        self, operator: str, extension: str, topics: Sequence[str] | None, now: datetime
    ) -> QueueEntry | None:
        """Take the first waiting entry."""
        ...

    def close_entry(self, entry_id: int, operator: str, result: str, now: datetime) -> QueueEntry:
        """Close a taken entry (only its operator)."""
        ...

    def callbacks(self, states: Sequence[str] = ("open", "taken")) -> list[Callback]:
        """Callbacks by deadline."""
        ...

    def take_callback(self, callback_id: int, operator: str, now: datetime) -> Callback | None:
        """Atomic take of an open callback."""
        ...

    def close_callback(
        self, callback_id: int, operator: str, *, done: bool, result: str, now: datetime
    ) -> Callback:
        """Done, or a failed attempt."""
        ...

    def request_callback(
        self,
        *,
        call_id: str,
        caller: str,
        topic: str,
        summary: str,
        deadline: datetime,
        now: datetime,
    ) -> Callback:
        """A new callback task."""
        ...

    def set_presence(self, login: str, status: OperatorStatus, now: datetime) -> None:
        """Status and heartbeat of an operator."""
        ...

    def operators(self, now: datetime | None = None) -> list[Operator]:
        """Active users with their (heartbeat-checked) presence."""
        ...

    def version(self) -> int:
        """Grows with every change to entries, callbacks or presence."""
        ...


class ConsoleCalls(Protocol):
    """The call store as the console uses it: transcripts and a caller's history."""

    def turns(self, call_id: str) -> list[TurnRecord]:
        """The call's lines in order."""
        ...

    def calls_from(self, caller: str, since: datetime) -> list[CallRecord]:
        """The caller's calls since `since`, newest first."""
        ...


# Results an operator closes a call with: code (stored) -> title (shown).
DEFAULT_RESULTS: Mapping[str, str] = MappingProxyType(
    {
        "resolved": "решено",
        "technician": "нужен выезд мастера",
        "call_back": "перезвонить",
        "unresolved": "не решено",
    }
)
CALL_BACK_RESULT = "call_back"  # closing with it also creates a callback task


@dataclass(frozen=True)
class ConsoleSettings:
    """Sessions, cookies, live updates and vocabulary of the operator console."""

    session_ttl: timedelta = timedelta(minutes=30)  # idle time after which one signs in again
    secure_cookie: bool = False  # True when the console is served over https
    allowed_origins: tuple[str, ...] = ()  # extra Origins accepted besides the Host's own
    poll_interval_s: float = 0.5  # how often queue.version() is read for live updates
    heartbeat_s: float = 20.0  # presence heartbeat and session re-check of an open console
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    # Behind a reverse proxy every login comes from its address: name the header it puts the
    # client's address in (e.g. "X-Real-IP") so that failed logins are counted per client.
    client_address_header: str | None = None
    max_concurrent_logins: int = 2  # scrypt checks at once (each takes ~128 MiB for ~0.5 s)
    results: Mapping[str, str] = field(default_factory=lambda: DEFAULT_RESULTS)
    callback_deadline: timedelta = timedelta(hours=4)  # for calls closed as "перезвонить"
    history_days: int = 30  # how far back the caller's previous calls are listed
    topic_titles: Mapping[str, str] = field(default_factory=dict)  # topic id -> Russian title


COOKIE_NAME = "voicebot_console"
PRIORITY_TITLES: Mapping[str, str] = MappingProxyType(
    {
        PRIORITY_VIP: "VIP-клиент",
        PRIORITY_URGENT_TOPIC: "срочная тема",
        PRIORITY_REPEAT_CALLER: "повторный звонок по нерешённому вопросу",
    }
)
REASON_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "caller_request": "клиент попросил соединить с оператором",
        "entry_requires_operator": "вопрос требует участия специалиста",
        "not_understood": "бот не понял вопрос",
        "internal_error": "техническая ошибка бота",
        "time_limit": "разговор с ботом длится слишком долго",
    }
)
ENTRY_STATE_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "waiting": "ждёт ответа",
        "taken": "принят",
        "closed": "закрыт",
        "abandoned": "клиент положил трубку",
        "callback": "переведён в обратный звонок",
    }
)
CALLBACK_STATE_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "open": "ожидает",
        "taken": "в работе",
        "done": "выполнен",
        "failed": "не удалось дозвониться",
        "cancelled": "отменён",
    }
)
TURN_ROLE_TITLES: Mapping[str, str] = MappingProxyType(
    {"caller": "Клиент", "bot": "Бот", "operator": "Оператор"}
)
OUTCOME_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "resolved_by_bot": "бот ответил сам",
        "escalated": "переведён на оператора",
        "caller_hung_up": "клиент положил трубку",
        "no_input": "клиент молчал",
        "max_duration": "превышена длительность",
        "protocol_error": "ошибка связи",
        "failed": "сбой",
    }
)
