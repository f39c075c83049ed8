"""QueueStore against real databases (a temp SQLite file and the local PostgreSQL): serving order,
the take/close and callback lifecycles, races between takers, wait inputs and presence expiry,
and two OS processes taking from one queue without losing or doubling an entry."""

from __future__ import annotations

import multiprocessing
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from voicebot.queue import QueueEntry
from voicebot.store import QueueError, QueueStore, StoreError
from voicebot.store.schema import OperatorRow, QueueEntryRow

# The sibling tests/db.py, named the way this module itself was imported ("db" or "tests.db").
pytest_plugins = (f"{__package__}.db" if __package__ else "db",)

T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(database_url: str) -> Iterator[QueueStore]:
    """A migrated queue store on an empty database of each backend."""
    with QueueStore(database_url) as store:
        yield store


def add_operator(
    store: QueueStore,
    login: str,
    *,
    topics: Sequence[str] = (),
    extension: str = "",
    active: bool = True,
    status: str = "offline",
    last_seen: datetime | None = None,
) -> None:
    """Insert a console user directly (the console's UserStore does this for real)."""
    with Session(store.engine) as session, session.begin():
        session.add(
            OperatorRow(
                login=login,
                name=login.title(),
                role="operator",
                password_hash="-",
                extension=extension or f"ext-{login}",
                topics=list(topics),
                active=active,
                created_at=T0 - timedelta(days=30),
                status=status,
                status_since=last_seen,
                last_seen=last_seen,
            )
        )


def enqueue(
    store: QueueStore,
    call_id: str,
    *,
    topic: str = "billing",
    priority: int = 0,
    at: datetime = T0,
    card: dict[str, object] | None = None,
) -> QueueEntry:
    """Put a call in the queue with the usual details."""
    return store.enqueue(
        call_id=call_id,
        caller="+79001234567",
        topic=topic,
        priority=priority,
        priority_reasons=("vip",) if priority else (),
        reason="caller_request",
        card=card if card is not None else {"topic": topic, "summary": f"Звонок {call_id}"},
        now=at,
    )


def ids(entries: Sequence[QueueEntry]) -> list[str]:
    """The call ids of entries, in their order."""
    return [entry.call_id for entry in entries]


# --- serving order -----------------------------------------------------------------------------


def test_priority_first_then_first_come_first_served(store: QueueStore) -> None:
    enqueue(store, "low-early", priority=0, at=T0)
    enqueue(store, "high-late", priority=2, at=T0 + 3 * MINUTE)
    enqueue(store, "mid", priority=1, at=T0 + MINUTE)
    enqueue(store, "high-early", priority=2, at=T0 + 2 * MINUTE)
    enqueue(store, "low-late", priority=0, at=T0 + 4 * MINUTE)
    enqueue(store, "low-same-time", priority=0, at=T0 + 4 * MINUTE)  # ties: the earlier id first
    enqueue(store, "tech", topic="tech", priority=5, at=T0 + 5 * MINUTE)

    expected = ["high-early", "high-late", "mid", "low-early", "low-late", "low-same-time"]
    assert ids(store.waiting(["billing"])) == expected
    assert ids(store.waiting()) == ["tech", *expected]
    assert ids(store.waiting(())) == ["tech", *expected]  # empty means every topic
    assert ids(store.waiting(["tech", "nothing"])) == ["tech"]

    add_operator(store, "anna")
    taken = []
    while (entry := store.take_next("anna", "", ["billing"], T0 + 10 * MINUTE)) is not None:
        taken.append(entry.call_id)
    assert taken == expected
    assert ids(store.waiting()) == ["tech"]


# --- take and close ----------------------------------------------------------------------------


def test_take_and_close_lifecycle(store: QueueStore) -> None:
    add_operator(store, "anna", extension="201", status="available", last_seen=T0)
    add_operator(store, "boris", extension="202", status="available", last_seen=T0)
    entry = enqueue(store, "call-1", card={"summary": "Не проходит оплата", "entities": [1, 2]})
    assert entry.state == "waiting" and entry.operator is None
    assert entry.card == {"summary": "Не проходит оплата", "entities": [1, 2]}

    taken = store.take(entry.id, "anna", "", T0 + MINUTE)
    assert taken is not None
    assert (taken.state, taken.operator, taken.extension) == ("taken", "anna", "201")
    assert taken.taken_at == T0 + MINUTE
    assert store.take(entry.id, "boris", "202", T0 + 2 * MINUTE) is None
    assert ids(store.active()) == ["call-1"] and ids(store.active("boris")) == []
    assert store.status(entry.id).extension == "201"
    presence = {op.login: op.status for op in store.operators(T0 + MINUTE)}
    assert presence == {"anna": "busy", "boris": "available"}

    with pytest.raises(QueueError, match=r"taken by 'anna', not 'boris'"):
        store.close_entry(entry.id, "boris", "решено", T0 + 3 * MINUTE)
    closed = store.close_entry(entry.id, "anna", "решено", T0 + 4 * MINUTE)
    assert (closed.state, closed.result, closed.closed_at) == ("closed", "решено", T0 + 4 * MINUTE)
    with pytest.raises(QueueError, match="already closed"):
        store.close_entry(entry.id, "anna", "ещё раз", T0 + 5 * MINUTE)
    kept = store.entry(entry.id)
    assert kept is not None and kept.result == "решено"
    assert store.active() == []
    assert {op.login: op.status for op in store.operators(T0 + 4 * MINUTE)}["anna"] == "available"


def test_an_operator_holding_two_calls_stays_busy_until_both_close(store: QueueStore) -> None:
    add_operator(store, "anna")
    first, second = enqueue(store, "a"), enqueue(store, "b")
    assert store.take(first.id, "anna", "", T0) is not None
    assert store.take(second.id, "anna", "", T0) is not None
    store.close_entry(first.id, "anna", "ok", T0 + MINUTE)
    assert store.operators(T0 + MINUTE)[0].status == "busy"
    store.close_entry(second.id, "anna", "ok", T0 + MINUTE)
    assert store.operators(T0 + MINUTE)[0].status == "available"


def test_refusals_are_clear_and_change_nothing(store: QueueStore) -> None:
    add_operator(store, "anna")
    add_operator(store, "gone", active=False)
    entry = enqueue(store, "call-1")
    version = store.version()

    with pytest.raises(QueueError, match="unknown operator 'nobody'"):
        store.take(entry.id, "nobody", "", T0)
    with pytest.raises(QueueError, match="deactivated"):
        store.take_next("gone", "", None, T0)
    with pytest.raises(QueueError, match="no queue entry with id 999"):
        store.take(999, "anna", "", T0)
    with pytest.raises(QueueError, match="not taken"):
        store.close_entry(entry.id, "anna", "?", T0)
    with pytest.raises(QueueError, match="already in the queue"):
        enqueue(store, "call-1")
    with pytest.raises(QueueError, match="timezone-aware"):
        store.take(entry.id, "anna", "", datetime(2025, 3, 14, 9, 0))
    with pytest.raises(QueueError, match="JSON-ready"):
        enqueue(store, "call-2", card={"when": T0})
    with pytest.raises(QueueError, match="JSON-ready"):
        enqueue(store, "call-2", card={"score": float("nan")})
    with pytest.raises(QueueError, match="sequence of strings"):
        store.waiting("billing")
    with pytest.raises(QueueError, match="unknown operator status"):
        store.set_presence("anna", "asleep", T0)  # type: ignore[arg-type]
    with pytest.raises(QueueError, match="unknown operator 'nobody'"):
        store.set_presence("nobody", "available", T0)
    with pytest.raises(QueueError, match="no callback with id 5"):
        store.take_callback(5, "anna", T0)

    assert isinstance(QueueError("x"), StoreError)
    assert store.version() == version
    assert ids(store.waiting()) == ["call-1"]


def test_take_next_with_nothing_waiting_is_none(store: QueueStore) -> None:
    add_operator(store, "anna")
    enqueue(store, "tech-call", topic="tech")
    version = store.version()
    assert store.take_next("anna", "", ["billing"], T0) is None
    assert store.version() == version


# --- abandon, callbacks ------------------------------------------------------------------------


def test_abandon_only_while_waiting(store: QueueStore) -> None:
    add_operator(store, "anna")
    first, second = enqueue(store, "a"), enqueue(store, "b")

    assert store.take(first.id, "anna", "", T0 + MINUTE) is not None
    assert store.abandon(first.id, T0 + 2 * MINUTE) is False  # the operator was faster
    kept = store.entry(first.id)
    assert kept is not None and kept.state == "taken"

    assert store.abandon(second.id, T0 + MINUTE) is True
    assert store.abandon(second.id, T0 + 2 * MINUTE) is False
    assert store.take(second.id, "anna", "", T0 + 3 * MINUTE) is None
    gone = store.entry(second.id)
    assert gone is not None and (gone.state, gone.closed_at) == ("abandoned", T0 + MINUTE)
    assert store.waiting() == []
    with pytest.raises(QueueError, match="no queue entry"):
        store.abandon(12345, T0)


def test_to_callback_moves_a_waiting_entry_to_the_callback_list(store: QueueStore) -> None:
    add_operator(store, "anna")
    waiting = enqueue(store, "call-1", topic="tech", card={"summary": "Нет интернета"})
    taken = enqueue(store, "call-2")
    assert store.take(taken.id, "anna", "", T0) is not None
    version = store.version()

    callback = store.to_callback(waiting.id, T0 + 60 * MINUTE, T0 + 2 * MINUTE)
    assert callback is not None
    assert (callback.call_id, callback.caller, callback.topic) == ("call-1", "+79001234567", "tech")
    assert (callback.summary, callback.state, callback.attempts) == ("Нет интернета", "open", 0)
    assert (callback.requested_at, callback.deadline) == (T0 + 2 * MINUTE, T0 + 60 * MINUTE)
    assert store.version() == version + 1
    moved = store.entry(waiting.id)
    assert moved is not None and moved.state == "callback"
    assert store.waiting() == []
    assert [c.id for c in store.callbacks()] == [callback.id]

    assert store.to_callback(taken.id, T0 + 60 * MINUTE, T0 + 3 * MINUTE) is None
    assert store.to_callback(waiting.id, T0 + 60 * MINUTE, T0 + 3 * MINUTE) is None
    assert len(store.callbacks()) == 1 and store.version() == version + 1


def test_callback_lifecycle_attempts_and_overdue(store: QueueStore) -> None:
    add_operator(store, "anna")
    add_operator(store, "boris")
    late = store.request_callback(
        call_id="c-late",
        caller="+79000000002",
        topic="billing",
        summary="Перезвонить после 18:00",
        deadline=T0 + 120 * MINUTE,
        now=T0,
    )
    soon = store.request_callback(
        call_id="c-soon",
        caller="+79000000001",
        topic="tech",
        summary="Перезвонить по аварии",
        deadline=T0 + 30 * MINUTE,
        now=T0,
    )
    assert [c.call_id for c in store.callbacks()] == ["c-soon", "c-late"]  # by deadline
    assert not soon.overdue(T0 + 30 * MINUTE) and soon.overdue(T0 + 31 * MINUTE)

    # Three failed attempts: open again after the first two, failed after the third.
    for attempt in (1, 2, 3):
        taken = store.take_callback(soon.id, "anna", T0 + attempt * MINUTE)
        assert taken is not None and (taken.state, taken.operator) == ("taken", "anna")
        assert store.take_callback(soon.id, "boris", T0 + attempt * MINUTE) is None
        with pytest.raises(QueueError, match="taken by 'anna', not 'boris'"):
            store.close_callback(soon.id, "boris", done=True, result="?", now=T0)
        after = store.close_callback(
            soon.id, "anna", done=False, result="не отвечает", now=T0 + attempt * MINUTE
        )
        assert after.attempts == attempt and after.result == "не отвечает"
        if attempt < 3:
            assert (after.state, after.operator, after.closed_at) == ("open", None, None)
            assert after.overdue(T0 + 31 * MINUTE)
        else:
            assert (after.state, after.closed_at) == ("failed", T0 + 3 * MINUTE)
            assert not after.overdue(T0 + 31 * MINUTE)  # closed: no longer overdue
    with pytest.raises(QueueError, match="is failed, not taken"):
        store.close_callback(soon.id, "anna", done=True, result="?", now=T0)

    assert store.take_callback(late.id, "boris", T0 + 5 * MINUTE) is not None
    done = store.close_callback(late.id, "boris", done=True, result="решено", now=T0 + 6 * MINUTE)
    assert (done.state, done.attempts, done.closed_at) == ("done", 1, T0 + 6 * MINUTE)
    assert store.take_callback(late.id, "anna", T0 + 7 * MINUTE) is None

    assert store.callbacks() == []
    assert [c.state for c in store.callbacks(("done", "failed"))] == ["failed", "done"]
    with pytest.raises(QueueError, match="unknown callback state"):
        store.callbacks(("lost",))


# --- version, presence, handle times, wait inputs ----------------------------------------------


def test_version_grows_with_every_change_and_only_then(store: QueueStore) -> None:
    add_operator(store, "anna")
    seen = [store.version()]

    def changed() -> None:
        seen.append(store.version())
        assert seen[-1] == seen[-2] + 1, f"version did not grow by one: {seen}"

    def unchanged() -> None:
        assert store.version() == seen[-1]

    entry = enqueue(store, "a")
    changed()
    store.set_presence("anna", "available", T0)
    changed()
    store.set_presence("anna", "available", T0 + MINUTE)  # a heartbeat only
    unchanged()
    store.take(entry.id, "anna", "", T0)
    changed()
    store.take(entry.id, "anna", "", T0)
    unchanged()
    store.close_entry(entry.id, "anna", "ok", T0)
    changed()
    store.abandon(entry.id, T0)
    unchanged()
    callback = store.request_callback(
        call_id="b", caller="1", topic="t", summary="s", deadline=T0, now=T0
    )
    changed()
    store.take_callback(callback.id, "anna", T0)
    changed()
    store.close_callback(callback.id, "anna", done=True, result="ok", now=T0)
    changed()


def test_presence_updates_status_since_and_expires(store: QueueStore) -> None:
    add_operator(store, "anna")
    store.set_presence("anna", "available", T0)
    store.set_presence("anna", "available", T0 + MINUTE)
    with Session(store.engine) as session:
        row = session.get(OperatorRow, "anna")
        assert row is not None
        assert (row.status, row.status_since, row.last_seen) == ("available", T0, T0 + MINUTE)
    assert store.operators(T0 + 3 * MINUTE)[0].status == "available"
    assert store.operators(T0 + 3 * MINUTE + timedelta(seconds=1))[0].status == "offline"


def test_handle_times_are_take_to_close_most_recent_first(store: QueueStore) -> None:
    add_operator(store, "anna")
    for n, (topic, seconds) in enumerate([("billing", 60), ("tech", 300), ("billing", 90)]):
        entry = enqueue(store, f"c{n}", topic=topic, at=T0)
        start = T0 + n * 10 * MINUTE
        store.take(entry.id, "anna", "", start)
        store.close_entry(entry.id, "anna", "ok", start + timedelta(seconds=seconds))
    open_entry = enqueue(store, "still-open", at=T0)
    store.take(open_entry.id, "anna", "", T0)

    assert store.handle_times("billing", T0) == [90.0, 60.0]
    assert store.handle_times(None, T0) == [90.0, 300.0, 60.0]
    assert store.handle_times(None, T0, limit=2) == [90.0, 300.0]
    assert store.handle_times(None, T0 + 16 * MINUTE) == [90.0]  # closed before `since`: out
    assert store.handle_times("nothing", T0) == []


def test_wait_inputs_count_the_queue_ahead_and_the_operators_present(store: QueueStore) -> None:
    now = T0 + 10 * MINUTE
    fresh, stale = now - MINUTE, now - 3 * MINUTE
    add_operator(store, "all-avail", status="available", last_seen=fresh)
    add_operator(store, "bill-busy", topics=["billing"], status="busy", last_seen=fresh)
    add_operator(store, "bill-avail", topics=["billing", "tech"], status="available", last_seen=now)
    add_operator(store, "tech-avail", topics=["tech"], status="available", last_seen=fresh)
    add_operator(store, "expired", status="available", last_seen=stale)
    add_operator(store, "away", status="away", last_seen=fresh)
    add_operator(store, "offline", status="offline", last_seen=fresh)
    add_operator(store, "fired", status="available", last_seen=fresh, active=False)

    first = enqueue(store, "b1", at=T0)
    vip = enqueue(store, "b2-vip", priority=2, at=T0 + MINUTE)
    third = enqueue(store, "b3", at=T0 + 2 * MINUTE)
    enqueue(store, "t1", topic="tech", priority=9, at=T0)

    wait = store.status(third.id, now).wait
    assert (wait.ahead, wait.operators_available, wait.operators_busy) == (2, 2, 1)
    assert store.status(vip.id, now).wait.ahead == 0
    assert store.status(first.id, now).wait.ahead == 1
    tech = store.status(store.waiting(["tech"])[0].id, now).wait
    assert (tech.ahead, tech.operators_available, tech.operators_busy) == (0, 3, 0)

    # Two minutes later only the heartbeat at `now` is still fresh.
    later = store.status(third.id, now + 2 * MINUTE).wait
    assert (later.operators_available, later.operators_busy) == (1, 0)

    # Once taken, nothing is ahead any more and the extension is known.
    taken = store.take(vip.id, "bill-avail", "", now)
    assert taken is not None
    status = store.status(vip.id, now)
    assert (status.state, status.extension, status.wait.ahead) == ("taken", "ext-bill-avail", 0)
    assert store.status(third.id, now).wait.ahead == 1


def test_status_without_now_uses_the_latest_time_known(store: QueueStore) -> None:
    add_operator(store, "anna", status="available", last_seen=T0)
    add_operator(store, "boris", status="available", last_seen=T0 - 5 * MINUTE)
    entry = enqueue(store, "a", at=T0 + MINUTE)
    # The latest `now` given (enqueue's) is the reference: anna is fresh, boris expired.
    assert store.status(entry.id).wait.operators_available == 1
    # A heartbeat written by another process advances the reference for this one too.
    with QueueStore(store.engine.url.render_as_string(hide_password=False)) as other:
        other.set_presence("boris", "available", T0 + 10 * MINUTE)
    wait = store.status(entry.id).wait
    assert wait.operators_available == 1  # anna's heartbeat is now 10 minutes old
    assert [op.status for op in store.operators()] == ["offline", "available"]


def test_handle_times_of_the_topic_come_first_then_other_topics(store: QueueStore) -> None:
    add_operator(store, "anna")

    def handled(call_id: str, topic: str, seconds: int, at: datetime) -> None:
        entry = enqueue(store, call_id, topic=topic, at=at)
        store.take(entry.id, "anna", "", at)
        store.close_entry(entry.id, "anna", "ok", at + timedelta(seconds=seconds))

    for n in range(3):
        handled(f"b{n}", "billing", 100 + n, T0 + n * MINUTE)
    handled("t0", "tech", 500, T0 + 10 * MINUTE)
    waiting = enqueue(store, "w", at=T0 + 20 * MINUTE)
    assert store.status(waiting.id).wait.handle_times_s == (102.0, 101.0, 100.0, 500.0)

    for n in range(3, 5):
        handled(f"b{n}", "billing", 100 + n, T0 + n * MINUTE)
    assert store.status(waiting.id).wait.handle_times_s == (104.0, 103.0, 102.0, 101.0, 100.0)


# --- PostgreSQL NOTIFY -------------------------------------------------------------------------


def test_changes_are_announced_with_notify_on_postgresql(store: QueueStore) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    listener = create_engine(store.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with listener.connect() as conn:
            conn.exec_driver_sql("LISTEN voicebot_queue")
            enqueue(store, "a")
            driver: Any = conn.connection.driver_connection
            notes = list(driver.notifies(timeout=5, stop_after=1))
        assert [(n.channel, n.payload) for n in notes] == [("voicebot_queue", str(store.version()))]
    finally:
        listener.dispose()


# --- races -------------------------------------------------------------------------------------


def test_takers_and_abandoners_racing_from_two_stores_never_both_win(database_url: str) -> None:
    with QueueStore(database_url) as first, QueueStore(database_url, migrate=False) as second:
        add_operator(first, "anna")
        entries = [enqueue(first, f"c{n}") for n in range(40)]
        start = threading.Barrier(3)

        def take_all() -> list[int]:
            start.wait()
            return [e.id for e in entries if first.take(e.id, "anna", "", T0) is not None]

        def abandon_all() -> list[int]:
            start.wait()
            return [e.id for e in reversed(entries) if second.abandon(e.id, T0)]

        def convert_all() -> list[int]:
            start.wait()
            return [e.id for e in entries[::2] if second.to_callback(e.id, T0, T0) is not None]

        with ThreadPoolExecutor(3) as pool:
            taken_f, abandoned_f = pool.submit(take_all), pool.submit(abandon_all)
            converted_f = pool.submit(convert_all)
            taken, abandoned = set(taken_f.result()), set(abandoned_f.result())
            converted = set(converted_f.result())

        assert taken | abandoned | converted == {e.id for e in entries}
        assert len(taken) + len(abandoned) + len(converted) == len(entries)
        states = {e.id: e.state for e in first.active()}
        assert set(states) == taken
        assert len(first.callbacks()) == len(converted)


def _take_until_empty(url: str, process: int, barrier: Any, results: Any) -> None:
    """A bridge process: its own store, two threads calling take_next until the queue is empty."""
    try:
        with QueueStore(url, migrate=False) as store:

            def run(thread: int) -> list[int]:
                login = f"op{process}{thread}"
                taken: list[int] = []
                barrier.wait()
                while (entry := store.take_next(login, "", None, T0 + MINUTE)) is not None:
                    taken.append(entry.id)
                return taken

            with ThreadPoolExecutor(2) as pool:
                per_thread = list(pool.map(run, range(2)))
        results.put((process, per_thread, None))
    except BaseException:
        results.put((process, [], traceback.format_exc()))


def test_two_processes_take_every_entry_exactly_once(database_url: str) -> None:
    with QueueStore(database_url) as store:
        for p in range(2):
            for t in range(2):
                add_operator(store, f"op{p}{t}")
        for n in range(200):
            enqueue(store, f"call-{n:03}", priority=n % 3, at=T0 + timedelta(seconds=n))
        expected = {entry.id for entry in store.waiting()}
        assert len(expected) == 200
        version = store.version()

        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(4, timeout=60)
        results = context.Queue()
        processes = [
            context.Process(target=_take_until_empty, args=(database_url, p, barrier, results))
            for p in range(2)
        ]
        started = time.monotonic()
        for worker in processes:
            worker.start()
        try:
            reports = [results.get(timeout=60) for _ in processes]
        finally:
            for worker in processes:
                worker.join(timeout=30)
        elapsed = time.monotonic() - started

        errors = [error for _, _, error in reports if error]
        assert not errors, "\n".join(errors)
        taken = [entry_id for _, threads, _ in reports for ids_ in threads for entry_id in ids_]
        assert len(taken) == len(set(taken)), "an entry was taken twice"
        assert set(taken) == expected, "an entry was lost"
        per_process = {p: sum(len(ids_) for ids_ in threads) for p, threads, _ in reports}
        assert all(count > 0 for count in per_process.values()), per_process
        assert store.waiting() == []
        assert store.version() == version + 200  # one bump per take, none for the empty polls

        # Who took what, as the database says, agrees with what each taker was told.
        told = {
            entry_id: f"op{p}{t}"
            for p, threads, _ in reports
            for t, ids_ in enumerate(threads)
            for entry_id in ids_
        }
        with Session(store.engine) as session:
            stored = dict(session.execute(select(QueueEntryRow.id, QueueEntryRow.operator)).all())
        assert stored == told
        assert elapsed < 20, f"two processes took {elapsed:.1f} s"


def test_results_for_calls_give_the_operators_closing_code(store: QueueStore) -> None:
    add_operator(store, "anna", extension="201", status="available", last_seen=T0)
    closed = enqueue(store, "call-1")
    assert store.take(closed.id, "anna", "", T0 + MINUTE) is not None
    store.close_entry(closed.id, "anna", "resolved: объяснила тариф", T0 + 2 * MINUTE)
    enqueue(store, "call-2")  # still waiting: no result yet
    assert store.results_for_calls(["call-1", "call-2", "ghost"]) == {"call-1": "resolved"}
    assert store.results_for_calls([]) == {}
