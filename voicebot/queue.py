"""The operator queue's vocabulary: entries, callbacks, operators, and the ports the call session
and the console use. Pure data and protocols; the store (voicebot/store/queue.py) implements them.

A call the bot escalates enters the queue of its topic with a priority; it waits there while the
bot keeps the caller company (the estimated wait, updated; a callback on request), until an
operator takes it from the console: then the PBX transfers the call to that operator's
extension. Entries are served by priority (higher first), then first come, first served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

EntryState = Literal["waiting", "taken", "closed", "abandoned", "callback"]
CallbackState = Literal["open", "taken", "done", "failed", "cancelled"]
Role = Literal["operator", "supervisor", "admin"]
OperatorStatus = Literal["offline", "available", "busy", "away"]

# Why an entry got its priority (shown on the card): each adds to the topic's priority.
PRIORITY_VIP = "vip"
PRIORITY_URGENT_TOPIC = "urgent_topic"
PRIORITY_REPEAT_CALLER = "repeat_caller"


@dataclass(frozen=True)
class QueueEntry:
    """One escalated call in the queue."""

    id: int
    call_id: str
    caller: str
    topic: str
    priority: int
    priority_reasons: tuple[str, ...]
    reason: str  # why the bot escalated (caller_request, not_understood, ...)
    card: Mapping[str, object]  # the summary card (voicebot.handoff), JSON-ready
    state: EntryState
    enqueued_at: datetime
    operator: str | None = None  # login of the operator who took it
    extension: str | None = None  # where the PBX transfers the call (the operator's)
    taken_at: datetime | None = None
    closed_at: datetime | None = None
    result: str | None = None  # the operator's closing result


@dataclass(frozen=True)
class Callback:
    """A promised call back to a caller."""

    id: int
    call_id: str | None
    caller: str
    topic: str
    summary: str
    requested_at: datetime
    deadline: datetime
    state: CallbackState
    operator: str | None = None
    closed_at: datetime | None = None
    result: str | None = None
    attempts: int = 0

    def overdue(self, now: datetime) -> bool:
        """Open or taken and past its deadline."""
        return self.state in ("open", "taken") and now > self.deadline


@dataclass(frozen=True)
class Operator:
    """A person who uses the console."""

    login: str
    name: str
    role: Role
    extension: str = ""  # the PBX extension or queue a taken call is transferred to
    topics: tuple[str, ...] = ()  # the queues they serve; empty = all
    status: OperatorStatus = "offline"


@dataclass(frozen=True)
class WaitInputs:
    """What the wait estimate of one entry depends on, read from the store in one go."""

    ahead: int  # entries of the same topic served before this one
    operators_available: int  # serving this topic, online and not busy
    operators_busy: int  # serving this topic, on a call
    handle_times_s: Sequence[float] = field(default_factory=tuple)  # recent, this topic first


@dataclass(frozen=True)
class EntryStatus:
    """Where a waiting call stands, as the call session polls it."""

    state: EntryState
    extension: str | None  # set once taken
    wait: WaitInputs


class CallQueue(Protocol):
    """What the call session needs of the queue (synchronous: called off the event loop)."""

    def enqueue(
        self,
        *,
        call_id: str,
        caller: str,
        topic: str,
        priority: int,
        priority_reasons: Sequence[str],
        reason: str,
        card: Mapping[str, object],
        now: datetime,
    ) -> QueueEntry:
        """Put an escalated call in its topic's queue."""
        ...

    def status(self, entry_id: int, now: datetime | None = None) -> EntryStatus:
        """The entry's state and its wait inputs (operator presence judged at `now`)."""
        ...

    def abandon(self, entry_id: int, now: datetime) -> bool:
        """The caller hung up while waiting; False if an operator had already taken it."""
        ...

    def to_callback(self, entry_id: int, deadline: datetime, now: datetime) -> Callback | None:
        """The caller asked for a callback while waiting: the entry leaves the queue and becomes
        a callback task; None if an operator had already taken it."""
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
        """A callback asked for outside working hours (no queue entry)."""
        ...
