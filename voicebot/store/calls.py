"""CallStore: every call and its turns, persisted (SQLite by default, PostgreSQL as well).

Synchronous and thread-safe: one Engine, one short session per method, so the call session
can call it through `asyncio.to_thread`. Choices worth knowing:

- Starting a call_id twice raises DuplicateCallError; the first record is kept unchanged.
- Ending a call twice raises CallAlreadyEndedError; the first end (time, outcome) is kept.
- Turns may be added after the end (late marks, operator notes); `seq` counts 1, 2, ... per call,
  assigned under a lock on the call's row (PostgreSQL) or the write lock (SQLite).
- The first bot turn sets `answered_at` when start_call did not.
- Nothing valid is truncated. Text the databases cannot hold is repaired, not refused: NUL
  characters and lone surrogates become U+FFFD; NaN/infinite scores are stored as NULL.
- Timestamps must be timezone-aware; they are stored as UTC and come back as aware UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from voicebot.events import Escalation
from voicebot.store.database import Database, StoreError
from voicebot.store.schema import CallRow, TurnRow

OUTCOMES = (
    "resolved_by_bot",
    "escalated",  # handed to a person (transferred)
    "callback_requested",  # the caller chose a callback (waiting, or outside the hours)
    "after_hours",  # outside working hours, no callback wanted
    "abandoned",  # hung up while waiting in the operator queue
    "caller_hung_up",
    "no_input",
    "max_duration",
    "protocol_error",
    "failed",
)
ROLES = ("caller", "bot", "operator")
DECISIONS = ("answer", "clarify", "escalate")
TURN_KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "bot": ("greeting", "answer", "prompt", "clarify", "goodbye", "transfer", "apology"),
        "caller": ("utterance", "dtmf"),
        "operator": ("utterance",),
    }
)
_NO_METADATA: Mapping[str, str] = MappingProxyType({})


class CallNotFoundError(StoreError):
    """No call with this call_id was started."""

    code = "call_not_found"


class TurnNotFoundError(StoreError):
    """No turn with this id exists."""

    code = "turn_not_found"


class DuplicateCallError(StoreError):
    """A call with this call_id was already started; the first record is kept."""

    code = "call_exists"


class CallAlreadyEndedError(StoreError):
    """The call already ended; its first end is kept."""

    code = "call_already_ended"


@dataclass(frozen=True)
class CallRecord:
    """A stored call; `ended_at`/`outcome` are None while it is in progress."""

    call_id: str
    caller: str
    called: str
    codec: str
    sample_rate: int
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    end_reason: str | None
    escalation_reason: str | None
    escalation_topic: str | None
    escalation_priority: int | None
    summary: str | None
    metadata: Mapping[str, str]
    kb_version: str | None
    rating: int | None = None  # the caller's post-call rating, 1-5


@dataclass(frozen=True)
class TurnRecord:
    """A stored line of a call, numbered by `seq` (1, 2, ...) within it."""

    id: int
    call_id: str
    seq: int
    role: str
    text: str
    kind: str | None
    started_at: datetime
    ended_at: datetime | None
    entry_id: str | None
    decision: str | None
    score: float | None
    scores: Mapping[str, float | None] | None
    asr_confidence: float | None
    alternatives: tuple[str, ...]
    heard: bool | None
    interrupted: bool


def default_database_url(data_dir: Path) -> str:
    """`sqlite:///<data_dir>/voicebot.db` (absolute), creating `data_dir` if needed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / 'voicebot.db').resolve()}"


class CallStore(Database):
    """Persists calls and turns; thread-safe, one database session per method."""

    def start_call(
        self,
        call_id: str,
        *,
        caller: str,
        called: str,
        codec: str,
        sample_rate: int,
        started_at: datetime,
        metadata: Mapping[str, str] = _NO_METADATA,
        kb_version: str | None = None,
        answered_at: datetime | None = None,
    ) -> None:
        """Record a new call; a call_id already stored raises DuplicateCallError."""
        call_id = _call_id(call_id)
        row = CallRow(
            call_id=call_id,
            caller=_text(caller),
            called=_text(called),
            codec=_text(codec),
            sample_rate=int(sample_rate),
            started_at=_aware("started_at", started_at),
            answered_at=_aware_or_none("answered_at", answered_at),
            meta={_text(str(k)): _text(str(v)) for k, v in metadata.items()},
            kb_version=_text_or_none(kb_version),
        )
        with self._session("start_call", write=True) as session:
            existing = session.get(CallRow, call_id)
            if existing is not None:
                raise DuplicateCallError(_duplicate_message(existing))
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:  # started concurrently by someone else
                raise DuplicateCallError(f"call {call_id!r} was already started") from exc

    def add_turn(
        self,
        call_id: str,
        role: str,
        text: str,
        *,
        started_at: datetime,
        ended_at: datetime | None = None,
        kind: str | None = None,
        entry_id: str | None = None,
        decision: str | None = None,
        score: float | None = None,
        scores: Mapping[str, float] | None = None,
        asr_confidence: float | None = None,
        alternatives: Sequence[str] = (),
    ) -> int:
        """Append a turn to a started call with the next `seq`; returns the turn's id."""
        call_id = _call_id(call_id)
        _check_turn(role, kind, decision)
        if isinstance(alternatives, str):
            alternatives = (alternatives,)
        row = TurnRow(
            call_id=call_id,
            role=role,
            text=_text(text),
            kind=kind,
            started_at=_aware("started_at", started_at),
            ended_at=_aware_or_none("ended_at", ended_at),
            entry_id=_text_or_none(entry_id),
            decision=decision,
            score=_number("score", score),
            scores=None
            if scores is None
            else {_text(str(k)): _number(f"scores[{k!r}]", v) for k, v in scores.items()},
            asr_confidence=_number("asr_confidence", asr_confidence),
            alternatives=[_text(str(a)) for a in alternatives],
            heard=None,
            interrupted=False,
        )
        with self._session("add_turn", write=True) as session:
            # Lock the call's row: concurrent add_turn calls for one call take turns here.
            found = session.execute(
                select(CallRow.answered_at).where(CallRow.call_id == call_id).with_for_update()
            ).one_or_none()
            if found is None:
                raise CallNotFoundError(f"turn for unknown call {call_id!r}: start_call it first")
            last = session.scalar(select(func.max(TurnRow.seq)).where(TurnRow.call_id == call_id))
            row.seq = (last or 0) + 1
            session.add(row)
            if role == "bot" and found.answered_at is None:
                session.execute(
                    update(CallRow)
                    .where(CallRow.call_id == call_id)
                    .values(answered_at=row.started_at)
                )
            session.flush()
            return row.id

    def update_turn(
        self,
        turn_id: int,
        *,
        ended_at: datetime | None = None,
        heard: bool | None = None,
        interrupted: bool | None = None,
    ) -> None:
        """Record what became of a turn; arguments left as None keep their stored value."""
        ended = _aware_or_none("ended_at", ended_at)
        with self._session("update_turn", write=True) as session:
            row = session.get(TurnRow, int(turn_id), with_for_update=True)
            if row is None:
                raise TurnNotFoundError(f"no turn with id {turn_id}")
            if ended is not None:
                row.ended_at = ended
            if heard is not None:
                row.heard = bool(heard)
            if interrupted is not None:
                row.interrupted = bool(interrupted)

    def end_call(
        self,
        call_id: str,
        *,
        ended_at: datetime,
        outcome: str,
        end_reason: str,
        escalation: Escalation | None = None,
    ) -> None:
        """Record how a call ended; ending it again raises and keeps the first end."""
        call_id = _call_id(call_id)
        if outcome not in OUTCOMES:
            raise StoreError(f"unknown outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
        ended = _aware("ended_at", ended_at)
        if escalation is not None and escalation.call_id != call_id:
            raise StoreError(
                f"escalation of call {escalation.call_id!r} passed to end_call({call_id!r})"
            )
        with self._session("end_call", write=True) as session:
            row = session.get(CallRow, call_id, with_for_update=True)
            if row is None:
                raise CallNotFoundError(f"cannot end unknown call {call_id!r}")
            if row.ended_at is not None:
                raise CallAlreadyEndedError(
                    f"call {call_id!r} already ended at {row.ended_at.isoformat()} "
                    f"({row.outcome}); the first end is kept"
                )
            row.ended_at = ended
            row.outcome = outcome
            row.end_reason = _text(end_reason)
            if escalation is not None:
                row.escalation_reason = _text(escalation.reason)
                row.escalation_topic = _text(escalation.topic)
                row.escalation_priority = int(escalation.priority)
                row.summary = _text(escalation.summary)

    def set_rating(self, call_id: str, rating: int) -> None:
        """The caller's post-call rating (1-5)."""
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise StoreError(f"a rating is 1 to 5, got {rating!r}")
        with self._session("set_rating", write=True) as session:
            row = session.get(CallRow, _call_id(call_id), with_for_update=True)
            if row is None:
                raise CallNotFoundError(f"cannot rate unknown call {call_id!r}")
            row.rating = rating

    def get_call(self, call_id: str) -> CallRecord | None:
        """The call, or None if it was never started."""
        with self._session("get_call", write=False) as session:
            row = session.get(CallRow, _call_id(call_id))
            return None if row is None else _call_record(row)

    def turns(self, call_id: str) -> list[TurnRecord]:
        """The call's turns in `seq` order (empty for an unknown call)."""
        query = select(TurnRow).where(TurnRow.call_id == _call_id(call_id)).order_by(TurnRow.seq)
        with self._session("turns", write=False) as session:
            return [_turn_record(row) for row in session.scalars(query)]

    def recent_calls(self, limit: int = 50, *, caller: str | None = None) -> list[CallRecord]:
        """The latest `limit` calls (of one caller if given), newest first."""
        if int(limit) < 1:
            raise StoreError(f"limit must be at least 1, got {limit}")
        query = select(CallRow).order_by(CallRow.started_at.desc()).limit(int(limit))
        if caller is not None:
            query = query.where(CallRow.caller == _text(caller))
        with self._session("recent_calls", write=False) as session:
            return [_call_record(row) for row in session.scalars(query)]

    def calls_from(self, caller: str, since: datetime) -> list[CallRecord]:
        """Calls from `caller` started at or after `since`, newest first (repeat callers)."""
        query = (
            select(CallRow)
            .where(CallRow.caller == _text(caller), CallRow.started_at >= _aware("since", since))
            .order_by(CallRow.started_at.desc())
        )
        with self._session("calls_from", write=False) as session:
            return [_call_record(row) for row in session.scalars(query)]


# --- validation and repair of input ----------------------------------------------------------


def _check_turn(role: str, kind: str | None, decision: str | None) -> None:
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if kind is not None and kind not in TURN_KINDS[role]:
        raise StoreError(
            f"unknown kind {kind!r} for a {role} turn: expected one of {', '.join(TURN_KINDS[role])}"
        )
    if decision is not None and decision not in DECISIONS:
        raise StoreError(f"unknown decision {decision!r}: expected one of {', '.join(DECISIONS)}")


def _call_id(call_id: str) -> str:
    if not isinstance(call_id, str) or not call_id:
        raise StoreError(f"call_id must be a non-empty string, got {call_id!r}")
    return _text(call_id)


def _text(value: str) -> str:
    """The text as is, unless it holds what PostgreSQL refuses (NUL, lone surrogates)."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    return value


def _text_or_none(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _number(name: str, value: float | None) -> float | None:
    """A plain float (numpy scalars included); NaN and infinities become None."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{name} must be a number, got {value!r}") from exc
    return number if math.isfinite(number) else None


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise StoreError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(
            f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got naive {value.isoformat()}"
        )
    return value.astimezone(UTC)


def _aware_or_none(name: str, value: datetime | None) -> datetime | None:
    return None if value is None else _aware(name, value)


def _duplicate_message(existing: CallRow) -> str:
    return (
        f"call {existing.call_id!r} was already started at {existing.started_at.isoformat()} "
        f"(caller {existing.caller!r}); call ids must be unique"
    )


# --- rows to records ---------------------------------------------------------------------------


def _call_record(row: CallRow) -> CallRecord:
    return CallRecord(
        call_id=row.call_id,
        caller=row.caller,
        called=row.called,
        codec=row.codec,
        sample_rate=row.sample_rate,
        started_at=row.started_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        outcome=row.outcome,
        end_reason=row.end_reason,
        escalation_reason=row.escalation_reason,
        escalation_topic=row.escalation_topic,
        escalation_priority=row.escalation_priority,
        summary=row.summary,
        metadata=dict(row.meta),
        kb_version=row.kb_version,
        rating=row.rating,
    )


def _turn_record(row: TurnRow) -> TurnRecord:
    return TurnRecord(
        id=row.id,
        call_id=row.call_id,
        seq=row.seq,
        role=row.role,
        text=row.text,
        kind=row.kind,
        started_at=row.started_at,
        ended_at=row.ended_at,
        entry_id=row.entry_id,
        decision=row.decision,
        score=row.score,
        scores=None if row.scores is None else dict(row.scores),
        asr_confidence=row.asr_confidence,
        alternatives=tuple(row.alternatives),
        heard=row.heard,
        interrupted=row.interrupted,
    )
