"""JSON views of queue entries, callbacks, transcripts and users, with Russian titles, and the
live snapshot each console receives (what its user's role may see, nothing more)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from telephony_bridge.console.ports import (
    CALLBACK_STATE_TITLES,
    ENTRY_STATE_TITLES,
    OUTCOME_TITLES,
    PRIORITY_TITLES,
    REASON_TITLES,
    TURN_ROLE_TITLES,
    ConsoleCalls,
    ConsoleQueue,
    ConsoleSettings,
)
from voicebot.auth import ROLE_TITLES, STATUS_TITLES, allowed
from voicebot.queue import Callback, Operator, QueueEntry
from voicebot.store.calls import CallRecord, TurnRecord
from voicebot.store.users import UserRecord

Json = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset (what JavaScript's Date parses)."""
    return None if value is None else value.isoformat()


def result_title(result: str | None, results: Mapping[str, str]) -> str | None:
    """ "resolved: comment" -> "решено: comment"; free text stays as it is."""
    if result is None:
        return None
    code, _, comment = result.partition(": ")
    if code in results:
        return results[code] + (f": {comment}" if comment else "")
    return result


def operator_json(operator: Operator) -> Json:
    """A user as the console shows them."""
    return {
        "login": operator.login,
        "name": operator.name,
        "role": operator.role,
        "role_title": ROLE_TITLES[operator.role],
        "extension": operator.extension,
        "topics": list(operator.topics),
        "status": operator.status,
        "status_title": STATUS_TITLES[operator.status],
    }


def user_json(record: UserRecord) -> Json:
    """A user as the admin page lists them."""
    return {
        **operator_json(record.operator),
        "active": record.active,
        "created_at": iso(record.created_at),
        "last_seen": iso(record.last_seen),
    }


def entry_json(entry: QueueEntry, settings: ConsoleSettings) -> Json:
    """A queue entry with its card and Russian titles."""
    return {
        "id": entry.id,
        "call_id": entry.call_id,
        "caller": entry.caller,
        "topic": entry.topic,
        "topic_title": settings.topic_titles.get(entry.topic, entry.topic),
        "priority": entry.priority,
        "priority_reasons": [
            {"code": code, "title": PRIORITY_TITLES.get(code, code)}
            for code in entry.priority_reasons
        ],
        "reason": entry.reason,
        "reason_title": REASON_TITLES.get(entry.reason, entry.reason),
        "card": dict(entry.card),
        "state": entry.state,
        "state_title": ENTRY_STATE_TITLES.get(entry.state, entry.state),
        "enqueued_at": iso(entry.enqueued_at),
        "operator": entry.operator,
        "extension": entry.extension,
        "taken_at": iso(entry.taken_at),
        "closed_at": iso(entry.closed_at),
        "result": entry.result,
        "result_title": result_title(entry.result, settings.results),
    }


def callback_json(callback: Callback, settings: ConsoleSettings, now: datetime) -> Json:
    """A callback task; `overdue` as of `now` (the page keeps re-checking it as time passes)."""
    return {
        "id": callback.id,
        "call_id": callback.call_id,
        "caller": callback.caller,
        "topic": callback.topic,
        "topic_title": settings.topic_titles.get(callback.topic, callback.topic),
        "summary": callback.summary,
        "requested_at": iso(callback.requested_at),
        "deadline": iso(callback.deadline),
        "state": callback.state,
        "state_title": CALLBACK_STATE_TITLES.get(callback.state, callback.state),
        "operator": callback.operator,
        "closed_at": iso(callback.closed_at),
        "result": callback.result,
        "attempts": callback.attempts,
        "overdue": callback.overdue(now),
    }


def turn_json(turn: TurnRecord) -> Json:
    """One transcript line."""
    return {
        "seq": turn.seq,
        "role": turn.role,
        "role_title": TURN_ROLE_TITLES.get(turn.role, turn.role),
        "text": turn.text,
        "kind": turn.kind,
        "at": iso(turn.started_at),
    }


def history_json(call: CallRecord) -> Json:
    """One earlier call of the same number."""
    return {
        "call_id": call.call_id,
        "started_at": iso(call.started_at),
        "outcome": call.outcome,
        "outcome_title": OUTCOME_TITLES.get(call.outcome or "", call.outcome or "идёт сейчас"),
        "topic": call.escalation_topic,
        "summary": call.summary,
    }


def call_json(
    entry: QueueEntry,
    queue_settings: ConsoleSettings,
    calls: ConsoleCalls,
    now: datetime,
) -> Json:
    """The call page's data: the entry and card, the full transcript, the caller's history."""
    since = now - timedelta(days=queue_settings.history_days)
    history = [c for c in calls.calls_from(entry.caller, since) if c.call_id != entry.call_id]
    return {
        "now": iso(now),
        "entry": entry_json(entry, queue_settings),
        "turns": [turn_json(t) for t in calls.turns(entry.call_id)],
        "history": [history_json(c) for c in history],
        "results": [{"code": k, "title": v} for k, v in queue_settings.results.items()],
    }


def visible_topics(operator: Operator) -> tuple[str, ...] | None:
    """The topics whose waiting calls the user sees: theirs, or all (None) for supervisors and
    users with no topics."""
    if allowed(operator.role, "calls.all") or not operator.topics:
        return None
    return operator.topics


def snapshot(
    operator: Operator,
    queue: ConsoleQueue,
    settings: ConsoleSettings,
    now: datetime,
    version: int,
) -> Json:
    """Everything a console page shows live, as far as the user's role allows."""
    presence = {o.login: o for o in queue.operators(now)}
    me = presence.get(operator.login, operator)
    data: Json = {
        "type": "snapshot",
        "version": version,
        "now": iso(now),
        "me": operator_json(me),
        "waiting": [entry_json(e, settings) for e in queue.waiting(visible_topics(operator))],
        "mine": [entry_json(e, settings) for e in queue.active(operator.login)],
        "callbacks": [callback_json(c, settings, now) for c in queue.callbacks()],
    }
    if allowed(operator.role, "calls.all"):
        data["active"] = [entry_json(e, settings) for e in queue.active()]
    if allowed(operator.role, "presence.all"):
        data["operators"] = [operator_json(o) for o in presence.values()]
    return data
