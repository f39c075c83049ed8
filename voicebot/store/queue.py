"""QueueStore: the persistent operator queue, callbacks and operator presence (voicebot.queue).

Synchronous and thread-safe like CallStore (one Engine, one short transaction per method), and
safe across processes sharing one database: several bridge processes on one PostgreSQL, or the
processes of one host on one SQLite file.

Concurrency, the choices made:

- Every state change is a compare-and-set UPDATE: `UPDATE queue_entries SET state = 'taken', ...
  WHERE id = :id AND state = 'waiting'`; a row count of 1 means this transaction won. Under
  PostgreSQL's READ COMMITTED a second UPDATE of the same row waits for the first transaction and
  then re-evaluates its WHERE clause on the committed row version, so it matches nothing (PostgreSQL
  manual, "Transaction Isolation", Read Committed). On SQLite every write transaction here begins
  IMMEDIATE (schema.make_engine), taking the database's single write lock up front, so a read
  followed by a write in one transaction cannot interleave with another writer. Take, abandon,
  to_callback, take_callback and close all go through such a guarded UPDATE: an entry is taken at
  most once, and an abandoned or converted entry can no longer be taken (and vice versa).
- take_next reads the first waiting entry in serving order and applies the same guarded UPDATE.
  On PostgreSQL the read is `SELECT ... ORDER BY ... LIMIT 1 FOR UPDATE SKIP LOCKED` (the manual,
  SELECT "The Locking Clause"): concurrent operators lock different entries instead of queueing on
  the head one; a row another transaction is changing is skipped, so under contention the second
  taker may get the second entry while the first is being taken. SQLite renders no locking clause
  (its write lock already serialises writers). Should the guarded UPDATE still lose, the next
  candidate is tried.
- Locks are taken in one order, entries or callbacks, then operators, then the queue_version row,
  so two transactions never wait on each other in a cycle.
- `version()` is the single queue_version row, bumped (`version = version + 1`) in the same
  transaction as every change to entries, callbacks or presence status; polling it is the portable
  way to notice changes, and what consumers use. On PostgreSQL the bump also sends
  `pg_notify('voicebot_queue', <new version>)`, which the server delivers only when the transaction
  commits (the manual, NOTIFY) for anyone who prefers LISTEN to polling.

Operator presence expires: an operator counts as online (available or busy) only while their
`last_seen` heartbeat is at most PRESENCE_TTL (2 minutes) old. Times are always passed in as
`now`; where a method has no `now` (status without one, operators without one) the reference is
the latest `now` this store was given or the newest heartbeat in the database, whichever is later.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast, get_args

from sqlalchemy import CursorResult, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from voicebot.queue import (
    Callback,
    CallbackState,
    EntryState,
    EntryStatus,
    Operator,
    OperatorStatus,
    QueueEntry,
    Role,
    WaitInputs,
)
from voicebot.store.database import Database, StoreError
from voicebot.store.schema import (
    CallbackRow,
    OperatorRow,
    QueueEntryRow,
    QueueVersionRow,
)

PRESENCE_TTL = timedelta(minutes=2)  # a heartbeat older than this means offline
MAX_CALLBACK_ATTEMPTS = 3  # failed attempts after which a callback is "failed"
HANDLE_TIME_WINDOW = timedelta(days=7)  # how far back status() looks for handle times
# How many recent handle times status() returns at most: a short window over-reacts to runs of
# long calls, which are when queues build (bench/wait_estimate.py: 50 gives +5% bias, 200 ~1.5%).
HANDLE_TIME_SAMPLE = 200
MIN_TOPIC_HANDLE_TIMES = 5  # fewer of the topic's own: other topics' times follow
NOTIFY_CHANNEL = "voicebot_queue"
OPERATOR_STATUSES: tuple[str, ...] = get_args(OperatorStatus)
CALLBACK_STATES: tuple[str, ...] = get_args(CallbackState)
_ONLINE = ("available", "busy")
_VERSION_ROW = 1


class QueueError(StoreError):
    """The queue store refused an operation or the database failed."""

    code = "queue_error"


class QueueStore(Database):
    """The operator queue, callbacks and presence, persisted; thread- and process-safe."""

    error = QueueError

    def __init__(self, url: str, *, migrate: bool = True, busy_timeout: float = 30.0) -> None:
        """Connect to `url` (SQLAlchemy URL) and, unless told not to, migrate it to head."""
        super().__init__(url, migrate=migrate, busy_timeout=busy_timeout)
        self._postgres = self._engine.dialect.name == "postgresql"
        self._clock = threading.Lock()
        self._latest_now: datetime | None = None

    # --- the call session's side (voicebot.queue.CallQueue) ------------------------------------

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
        """Put an escalated call in its topic's queue; a call already waiting or taken is refused."""
        at = self._now(now)
        row = QueueEntryRow(
            call_id=_name("call_id", call_id),
            caller=_text(caller),
            topic=_name("topic", topic),
            priority=_int("priority", priority),
            priority_reasons=[_text(r) for r in _strings("priority_reasons", priority_reasons)],
            reason=_text(reason),
            card=_json_ready(card),
            state="waiting",
            enqueued_at=at,
        )
        with self._session("enqueue", write=True) as session:
            # A guard against a session enqueuing its call twice (one process owns a call, so
            # no lock is needed; two processes racing on one call_id could both pass).
            open_entry = session.scalar(
                select(QueueEntryRow.id)
                .where(
                    QueueEntryRow.call_id == row.call_id,
                    QueueEntryRow.state.in_(("waiting", "taken")),
                )
                .limit(1)
            )
            if open_entry is not None:
                raise QueueError(
                    f"call {row.call_id!r} is already in the queue as entry {open_entry}"
                )
            session.add(row)
            session.flush()
            self._bump(session)
            return _entry(row)

    def status(self, entry_id: int, now: datetime | None = None) -> EntryStatus:
        """The entry's state and its wait inputs; presence is judged at `now` (see the module)."""
        with self._session("status", write=False) as session:
            row = _entry_row(session, entry_id)
            at = self._reference(session, now)
            ahead = 0
            if row.state == "waiting":
                ahead = session.scalar(_ahead_query(row)) or 0
            available, busy = _presence_counts(session, row.topic, at)
            since = (at or row.enqueued_at) - HANDLE_TIME_WINDOW
            times = _handle_times(session, row.topic, since, HANDLE_TIME_SAMPLE)
            if len(times) < MIN_TOPIC_HANDLE_TIMES:
                times += _handle_times(
                    session, row.topic, since, HANDLE_TIME_SAMPLE - len(times), exclude=True
                )
            return EntryStatus(
                state=cast(EntryState, row.state),
                extension=row.extension,
                wait=WaitInputs(
                    ahead=int(ahead),
                    operators_available=available,
                    operators_busy=busy,
                    handle_times_s=tuple(times),
                ),
            )

    def abandon(self, entry_id: int, now: datetime) -> bool:
        """The caller hung up while waiting; False if the entry was no longer waiting."""
        at = self._now(now)
        with self._session("abandon", write=True) as session:
            if not _set_entry(session, entry_id, "waiting", state="abandoned", closed_at=at):
                _entry_row(session, entry_id)  # unknown ids raise
                return False
            self._bump(session)
            return True

    def to_callback(
        self, entry_id: int, deadline: datetime, now: datetime, *, summary: str | None = None
    ) -> Callback | None:
        """Turn a waiting entry into an open callback task (one transaction); None if it was no
        longer waiting. The summary defaults to the card's "summary" text, else the reason."""
        at = self._now(now)
        due = _aware("deadline", deadline)
        with self._session("to_callback", write=True) as session:
            if not _set_entry(session, entry_id, "waiting", state="callback", closed_at=at):
                _entry_row(session, entry_id)
                return None
            entry = _entry_row(session, entry_id)
            card_summary = entry.card.get("summary")
            if summary is None:
                summary = card_summary if isinstance(card_summary, str) else entry.reason
            callback = CallbackRow(
                call_id=entry.call_id,
                caller=entry.caller,
                topic=entry.topic,
                summary=_text(summary),
                requested_at=at,
                deadline=due,
                state="open",
                attempts=0,
            )
            session.add(callback)
            session.flush()
            self._bump(session)
            return _callback(callback)

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
        at = self._now(now)
        row = CallbackRow(
            call_id=_name("call_id", call_id),
            caller=_text(caller),
            topic=_name("topic", topic),
            summary=_text(summary),
            requested_at=at,
            deadline=_aware("deadline", deadline),
            state="open",
            attempts=0,
        )
        with self._session("request_callback", write=True) as session:
            session.add(row)
            session.flush()
            self._bump(session)
            return _callback(row)

    # --- the console's side: entries ----------------------------------------------------------

    def waiting(self, topics: Sequence[str] | None = None) -> list[QueueEntry]:
        """Waiting entries in serving order; `topics` None or empty means every topic."""
        query = select(QueueEntryRow).where(*_waiting_where(topics)).order_by(*_serving_order())
        with self._session("waiting", write=False) as session:
            return [_entry(row) for row in session.scalars(query)]

    def active(self, operator: str | None = None) -> list[QueueEntry]:
        """Entries taken and not yet closed (of one operator if given), oldest take first."""
        query = (
            select(QueueEntryRow)
            .where(QueueEntryRow.state == "taken")
            .order_by(QueueEntryRow.taken_at, QueueEntryRow.id)
        )
        if operator is not None:
            query = query.where(QueueEntryRow.operator == operator)
        with self._session("active", write=False) as session:
            return [_entry(row) for row in session.scalars(query)]

    def entry(self, entry_id: int) -> QueueEntry | None:
        """The entry, or None if there is none with this id."""
        with self._session("entry", write=False) as session:
            row = session.get(QueueEntryRow, _int("entry_id", entry_id))
            return None if row is None else _entry(row)

    def take(
        self, entry_id: int, operator: str, extension: str, now: datetime
    ) -> QueueEntry | None:
        """Give the entry to `operator` (transfer to `extension`, else theirs); None if it was no
        longer waiting. The operator becomes busy."""
        at = self._now(now)
        with self._session("take", write=True) as session:
            login, ext = _taker(session, operator, extension)
            taken = _set_entry(
                session,
                entry_id,
                "waiting",
                state="taken",
                operator=login,
                extension=ext,
                taken_at=at,
            )
            if not taken:
                _entry_row(session, entry_id)
                return None
            _set_status(session, login, "busy", at)
            self._bump(session)
            return _entry(_entry_row(session, entry_id))

    def take_next(
        self, operator: str, extension: str, topics: Sequence[str] | None, now: datetime
    ) -> QueueEntry | None:
        """Take the first waiting entry in serving order among `topics` (None or empty: all);
        None when there is none."""
        at = self._now(now)
        query = (
            select(QueueEntryRow.id)
            .where(*_waiting_where(topics))
            .order_by(*_serving_order())
            .limit(1)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        with self._session("take_next", write=True) as session:
            login, ext = _taker(session, operator, extension)
            while True:
                candidate = session.scalar(query)
                if candidate is None:
                    return None
                taken = _set_entry(
                    session,
                    candidate,
                    "waiting",
                    state="taken",
                    operator=login,
                    extension=ext,
                    taken_at=at,
                )
                if taken:  # else someone else won it: it is no longer waiting, try the next
                    break
            _set_status(session, login, "busy", at)
            self._bump(session)
            return _entry(_entry_row(session, candidate))

    def close_entry(self, entry_id: int, operator: str, result: str, now: datetime) -> QueueEntry:
        """Close a taken entry with the operator's result; only the operator who took it may.
        The operator becomes available again unless they still hold another entry."""
        at = self._now(now)
        with self._session("close", write=True) as session:
            closed = _set_entry(
                session,
                entry_id,
                "taken",
                operator_is=operator,
                state="closed",
                closed_at=at,
                result=_text(result),
            )
            row = _entry_row(session, entry_id)
            if not closed:
                raise QueueError(_not_closable(row, operator))
            still_busy = session.scalar(
                select(func.count())
                .select_from(QueueEntryRow)
                .where(QueueEntryRow.state == "taken", QueueEntryRow.operator == operator)
            )
            if not still_busy:
                _set_status(session, operator, "available", at)
            self._bump(session)
            return _entry(row)

    # --- callbacks -------------------------------------------------------------------------------

    def callbacks(self, states: Sequence[str] = ("open", "taken")) -> list[Callback]:
        """Callbacks in these states, earliest deadline first."""
        wanted = _strings("states", states)
        unknown = sorted(set(wanted) - set(CALLBACK_STATES))
        if unknown:
            raise QueueError(
                f"unknown callback state(s) {', '.join(unknown)}: "
                f"expected {', '.join(CALLBACK_STATES)}"
            )
        query = (
            select(CallbackRow)
            .where(CallbackRow.state.in_(wanted))
            .order_by(CallbackRow.deadline, CallbackRow.id)
        )
        with self._session("callbacks", write=False) as session:
            return [_callback(row) for row in session.scalars(query)]

    def take_callback(self, callback_id: int, operator: str, now: datetime) -> Callback | None:
        """Give an open callback to `operator`; None if it was no longer open."""
        at = self._now(now)
        callback_id = _int("callback_id", callback_id)
        with self._session("take_callback", write=True) as session:
            login, _ = _taker(session, operator, "", need_extension=False)
            result = _cursor(
                session.execute(
                    update(CallbackRow)
                    .where(CallbackRow.id == callback_id, CallbackRow.state == "open")
                    .values(state="taken", operator=login, taken_at=at)
                    .execution_options(synchronize_session=False)
                )
            )
            row = _callback_row(session, callback_id)
            if result.rowcount != 1:
                return None
            self._bump(session)
            return _callback(row)

    def close_callback(
        self, callback_id: int, operator: str, *, done: bool, result: str, now: datetime
    ) -> Callback:
        """Record the call back: done, or a failed attempt (attempts + 1, back to "open", or
        "failed" after MAX_CALLBACK_ATTEMPTS). Only the operator who took it may close it."""
        at = self._now(now)
        callback_id = _int("callback_id", callback_id)
        with self._session("close_callback", write=True) as session:
            row = _callback_row(session, callback_id, lock=True)
            if row.state != "taken":
                raise QueueError(
                    f"callback {callback_id} is {row.state}, not taken: take it before closing it"
                )
            if row.operator != operator:
                raise QueueError(
                    f"callback {callback_id} was taken by {row.operator!r}, not {operator!r}: "
                    "only they can close it"
                )
            row.attempts += 1
            row.result = _text(result)
            if done or row.attempts >= MAX_CALLBACK_ATTEMPTS:
                row.state = "done" if done else "failed"
                row.closed_at = at
            else:
                row.state, row.operator, row.taken_at = "open", None, None
            session.flush()
            self._bump(session)
            return _callback(row)

    # --- operators -----------------------------------------------------------------------------

    def set_presence(self, login: str, status: OperatorStatus, now: datetime) -> None:
        """Record an operator's status and heartbeat (last_seen); the version grows only when the
        status itself changes. Unknown or deactivated operators are refused."""
        at = self._now(now)
        if status not in OPERATOR_STATUSES:
            raise QueueError(
                f"unknown operator status {status!r}: expected {', '.join(OPERATOR_STATUSES)}"
            )
        with self._session("set_presence", write=True) as session:
            row = session.get(OperatorRow, login, with_for_update=True)
            if row is None:
                raise QueueError(f"unknown operator {login!r}")
            if not row.active and status != "offline":
                raise QueueError(f"operator {login!r} is deactivated")
            row.last_seen = at
            if row.status != status or row.status_since is None:
                row.status, row.status_since = status, at
                session.flush()
                self._bump(session)

    def operators(self, now: datetime | None = None) -> list[Operator]:
        """Active console users by login; a status whose heartbeat expired reads "offline"."""
        query = select(OperatorRow).where(OperatorRow.active).order_by(OperatorRow.login)
        with self._session("operators", write=False) as session:
            at = self._reference(session, now)
            return [_operator(row, at) for row in session.scalars(query)]

    def results_for_calls(self, call_ids: Sequence[str]) -> dict[str, str]:
        """The operator's closing result code of each call that was taken and closed (the text
        before ": " of the stored result, e.g. "resolved"), for the caller's history."""
        if not call_ids:
            return {}
        query = (
            select(QueueEntryRow.call_id, QueueEntryRow.result)
            .where(QueueEntryRow.call_id.in_(list(call_ids)), QueueEntryRow.state == "closed")
            .order_by(QueueEntryRow.closed_at)
        )
        with self._session("results_for_calls", write=False) as session:
            return {
                str(call_id): str(result or "").split(":", 1)[0].strip()
                for call_id, result in session.execute(query)
            }

    def handle_times(self, topic: str | None, since: datetime, limit: int = 50) -> list[float]:
        """Seconds from take to close of entries closed at or after `since` (of `topic`, or all
        when None), most recent first."""
        start = _aware("since", since)
        if int(limit) < 1:
            raise QueueError(f"limit must be at least 1, got {limit}")
        with self._session("handle_times", write=False) as session:
            return _handle_times(session, topic, start, int(limit))

    def version(self) -> int:
        """Grows with every change to entries, callbacks or presence status."""
        with self._session("version", write=False) as session:
            value = session.scalar(
                select(QueueVersionRow.version).where(QueueVersionRow.id == _VERSION_ROW)
            )
        if value is None:
            raise QueueError("the queue_version row is missing: is the database migrated?")
        return int(value)

    # --- internals -----------------------------------------------------------------------------

    def _bump(self, session: Session) -> None:
        """Grow the version in the caller's transaction (and NOTIFY on PostgreSQL)."""
        result = _cursor(
            session.execute(
                update(QueueVersionRow)
                .where(QueueVersionRow.id == _VERSION_ROW)
                .values(version=QueueVersionRow.version + 1)
                .execution_options(synchronize_session=False)
            )
        )
        if result.rowcount != 1:
            raise QueueError("the queue_version row is missing: is the database migrated?")
        if self._postgres:
            version = session.scalar(
                select(QueueVersionRow.version).where(QueueVersionRow.id == _VERSION_ROW)
            )
            session.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(version))))

    def _now(self, now: datetime) -> datetime:
        """Validate `now` and remember the latest one (the reference of status without `now`)."""
        at = _aware("now", now)
        with self._clock:
            if self._latest_now is None or at > self._latest_now:
                self._latest_now = at
        return at

    def _reference(self, session: Session, now: datetime | None) -> datetime | None:
        """`now` if given, else the later of the latest `now` seen and the newest heartbeat."""
        if now is not None:
            return self._now(now)
        newest = session.scalar(select(func.max(OperatorRow.last_seen)))
        with self._clock:
            latest = self._latest_now
        known = [t for t in (latest, newest) if t is not None]
        return max(known) if known else None


# --- queries -----------------------------------------------------------------------------------


def _serving_order() -> tuple[Any, ...]:
    """Priority first (higher first), then first come, first served (ties by id)."""
    return (QueueEntryRow.priority.desc(), QueueEntryRow.enqueued_at, QueueEntryRow.id)


def _waiting_where(topics: Sequence[str] | None) -> list[Any]:
    """The WHERE clauses of "waiting, in one of these topics" (None or empty: any topic)."""
    clauses: list[Any] = [QueueEntryRow.state == "waiting"]
    if topics:
        clauses.append(QueueEntryRow.topic.in_(_strings("topics", topics)))
    return clauses


def _ahead_query(row: QueueEntryRow) -> Select[int]:
    """How many waiting entries of the row's topic are served before it."""
    before = or_(
        QueueEntryRow.priority > row.priority,
        and_(
            QueueEntryRow.priority == row.priority,
            or_(
                QueueEntryRow.enqueued_at < row.enqueued_at,
                and_(QueueEntryRow.enqueued_at == row.enqueued_at, QueueEntryRow.id < row.id),
            ),
        ),
    )
    return (
        select(func.count())
        .select_from(QueueEntryRow)
        .where(QueueEntryRow.state == "waiting", QueueEntryRow.topic == row.topic, before)
    )


def _present(last_seen: datetime | None, at: datetime | None) -> bool:
    """Whether a heartbeat at `last_seen` still counts at `at` (PRESENCE_TTL)."""
    return last_seen is not None and at is not None and at - last_seen <= PRESENCE_TTL


def _presence_counts(session: Session, topic: str, at: datetime | None) -> tuple[int, int]:
    """Active operators serving `topic` (empty topics: all) and online at `at`: available, busy."""
    rows = session.execute(
        select(OperatorRow.status, OperatorRow.topics, OperatorRow.last_seen).where(
            OperatorRow.active, OperatorRow.status.in_(_ONLINE)
        )
    )
    counts = {"available": 0, "busy": 0}
    for status, topics, last_seen in rows:
        if _present(last_seen, at) and (not topics or topic in topics):
            counts[status] += 1
    return counts["available"], counts["busy"]


def _handle_times(
    session: Session, topic: str | None, since: datetime, limit: int, *, exclude: bool = False
) -> list[float]:
    """Take-to-close seconds of closed entries, most recent close first; `exclude` flips the
    topic filter (every other topic)."""
    if limit < 1:
        return []
    query = (
        select(QueueEntryRow.taken_at, QueueEntryRow.closed_at)
        .where(
            QueueEntryRow.state == "closed",
            QueueEntryRow.taken_at.is_not(None),
            QueueEntryRow.closed_at >= since,
        )
        .order_by(QueueEntryRow.closed_at.desc(), QueueEntryRow.id.desc())
        .limit(limit)
    )
    if topic is not None:
        query = query.where(
            QueueEntryRow.topic != topic if exclude else QueueEntryRow.topic == topic
        )
    # Clocks of different processes may disagree a little: never a negative duration.
    return [
        max(0.0, (closed - taken).total_seconds())
        for taken, closed in session.execute(query)
        if taken is not None and closed is not None
    ]


def _set_entry(
    session: Session, entry_id: int, expected: str, *, operator_is: str | None = None, **values: Any
) -> bool:
    """The compare-and-set: change the entry only if it is still in state `expected` (and held by
    `operator_is` when given); True if this transaction changed it."""
    query = update(QueueEntryRow).where(
        QueueEntryRow.id == _int("entry_id", entry_id), QueueEntryRow.state == expected
    )
    if operator_is is not None:
        query = query.where(QueueEntryRow.operator == operator_is)
    statement = query.values(**values).execution_options(synchronize_session=False)
    return _cursor(session.execute(statement)).rowcount == 1


def _entry_row(session: Session, entry_id: int) -> QueueEntryRow:
    """The entry as stored now (not a stale copy); unknown ids raise QueueError."""
    row = session.get(QueueEntryRow, _int("entry_id", entry_id), populate_existing=True)
    if row is None:
        raise QueueError(f"no queue entry with id {entry_id}")
    return row


def _callback_row(session: Session, callback_id: int, *, lock: bool = False) -> CallbackRow:
    """The callback as stored now, locked for update if asked; unknown ids raise QueueError."""
    row = session.get(CallbackRow, callback_id, populate_existing=True, with_for_update=lock)
    if row is None:
        raise QueueError(f"no callback with id {callback_id}")
    return row


def _taker(
    session: Session, operator: str, extension: str, *, need_extension: bool = True
) -> tuple[str, str]:
    """The login and transfer extension of an operator about to take something."""
    row = session.get(OperatorRow, operator)
    if row is None:
        raise QueueError(f"unknown operator {operator!r}")
    if not row.active:
        raise QueueError(f"operator {operator!r} is deactivated")
    ext = extension or row.extension
    if need_extension and not ext:
        raise QueueError(
            f"no extension to transfer the call to: pass one or set operator {operator!r}'s"
        )
    return row.login, ext


def _set_status(session: Session, login: str, status: str, at: datetime) -> None:
    """Set an operator's presence (taking is a heartbeat too); a vanished operator is skipped."""
    row = session.get(OperatorRow, login, populate_existing=True, with_for_update=True)
    if row is None:
        return
    if row.status != status:
        row.status, row.status_since = status, at
    if row.last_seen is None or row.last_seen < at:
        row.last_seen = at


def _not_closable(row: QueueEntryRow, operator: str) -> str:
    """Why `operator` cannot close this entry."""
    if row.state == "taken":
        return (
            f"entry {row.id} was taken by {row.operator!r}, not {operator!r}: "
            "only they can close it"
        )
    if row.state == "closed":
        closed = row.closed_at.isoformat() if row.closed_at else "?"
        return (
            f"entry {row.id} was already closed at {closed} by {row.operator!r} "
            f"({row.result!r}); the first close is kept"
        )
    return f"entry {row.id} is {row.state}, not taken: there is no call to close"


def _cursor(result: Any) -> CursorResult[Any]:
    """The result of an UPDATE, whose rowcount tells whether it matched."""
    return cast(CursorResult[Any], result)


# --- rows to records ---------------------------------------------------------------------------


def _entry(row: QueueEntryRow) -> QueueEntry:
    return QueueEntry(
        id=row.id,
        call_id=row.call_id,
        caller=row.caller,
        topic=row.topic,
        priority=row.priority,
        priority_reasons=tuple(row.priority_reasons),
        reason=row.reason,
        card=dict(row.card),
        state=cast(EntryState, row.state),
        enqueued_at=row.enqueued_at,
        operator=row.operator,
        extension=row.extension,
        taken_at=row.taken_at,
        closed_at=row.closed_at,
        result=row.result,
    )


def _callback(row: CallbackRow) -> Callback:
    return Callback(
        id=row.id,
        call_id=row.call_id,
        caller=row.caller,
        topic=row.topic,
        summary=row.summary,
        requested_at=row.requested_at,
        deadline=row.deadline,
        state=cast(CallbackState, row.state),
        operator=row.operator,
        closed_at=row.closed_at,
        result=row.result,
        attempts=row.attempts,
    )


def _operator(row: OperatorRow, at: datetime | None) -> Operator:
    status = row.status if row.status == "offline" or _present(row.last_seen, at) else "offline"
    return Operator(
        login=row.login,
        name=row.name,
        role=cast(Role, row.role),
        extension=row.extension,
        topics=tuple(row.topics or ()),
        status=cast(OperatorStatus, status),
    )


# --- validation of input -----------------------------------------------------------------------


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise QueueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise QueueError(
            f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got naive {value.isoformat()}"
        )
    return value.astimezone(UTC)


def _int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueueError(f"{name} must be an integer, got {value!r}")
    return value


def _name(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise QueueError(f"{name} must be a non-empty string, got {value!r}")
    return _text(value)


def _strings(name: str, values: Sequence[str]) -> tuple[str, ...]:
    """A sequence of strings; a bare string is refused (it is a sequence of letters)."""
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise QueueError(f"{name} must be a sequence of strings, got {values!r}")
    return tuple(values)


def _text(value: str) -> str:
    """The text as is, unless it holds what PostgreSQL refuses (NUL, lone surrogates)."""
    if not isinstance(value, str):
        raise QueueError(f"expected a string, got {value!r}")
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    return value


def _json_ready(card: Mapping[str, object]) -> dict[str, Any]:
    """A plain JSON copy of the card (strings repaired as by _text); anything else is refused."""
    if not isinstance(card, Mapping):
        raise QueueError(f"card must be a mapping, got {type(card).__name__}")
    try:
        copy = json.loads(json.dumps(dict(card), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise QueueError(f"card must be JSON-ready (no NaN, only JSON types): {exc}") from exc
    return cast(dict[str, Any], _clean_json(copy))


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {_text(k): _clean_json(v) for k, v in value.items()}
    return value
