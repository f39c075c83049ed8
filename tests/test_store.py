"""CallStore and its migrations against real databases: a temp SQLite file and local PostgreSQL."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect, text

from voicebot.errors import VoicebotError
from voicebot.events import Escalation, Turn
from voicebot.store import (
    CallAlreadyEndedError,
    CallNotFoundError,
    CallStore,
    DuplicateCallError,
    StoreError,
    TurnNotFoundError,
    default_database_url,
)
from voicebot.store.migrations import current_revision, downgrade, head_revision, migrate
from voicebot.store.schema import Base, make_engine, normalise_url

# The sibling tests/db.py, named the way this module itself was imported ("db" or "tests.db").
pytest_plugins = (f"{__package__}.db" if __package__ else "db",)

T0 = datetime(2025, 3, 14, 9, 30, 0, 123456, tzinfo=UTC)
MOSCOW = timezone(timedelta(hours=3))
CALLER = "+79001234567"


@pytest.fixture
def store(database_url: str) -> Iterator[CallStore]:
    """A migrated store on an empty database of each backend."""
    with CallStore(database_url) as store:
        yield store


def start(
    store: CallStore, call_id: str = "call-1", *, caller: str = CALLER, at: datetime = T0
) -> None:
    """Start a call with the usual telephone parameters."""
    store.start_call(
        call_id, caller=caller, called="88005553535", codec="pcmu", sample_rate=8000, started_at=at
    )


def table_names(url: str) -> set[str]:
    """Tables visible at `url`."""
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --- migrations ----------------------------------------------------------------------------


def test_migrations_create_the_schema_from_empty_and_are_idempotent(database_url: str) -> None:
    assert current_revision(database_url) is None
    assert table_names(database_url) == set()

    migrate(database_url)
    migrate(database_url)

    assert current_revision(database_url) == head_revision() == "0003"
    assert {
        "calls",
        "turns",
        "queue_entries",
        "callbacks",
        "operators",
        "console_sessions",
        "queue_version",
        "kb_versions",
        "kb_audit",
        "alembic_version",
    } <= table_names(database_url)
    engine = make_engine(database_url)
    try:
        inspector = inspect(engine)
        indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("calls")}
        assert indexes["ix_calls_started_at"] == ["started_at"]
        assert indexes["ix_calls_caller_started_at"] == ["caller", "started_at"]
        uniques = [uq["column_names"] for uq in inspector.get_unique_constraints("turns")]
        assert ["call_id", "seq"] in uniques
        fks = inspector.get_foreign_keys("turns")
        assert [(fk["referred_table"], fk["constrained_columns"]) for fk in fks] == [
            ("calls", ["call_id"])
        ]
    finally:
        engine.dispose()

    # A store opening a database already at head migrates nothing and loses nothing.
    with CallStore(database_url) as first:
        start(first)
    with CallStore(database_url) as second:
        record = second.get_call("call-1")
        assert record is not None and record.caller == CALLER


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_then_upgrade_to_head(database_url: str) -> None:
    with CallStore(database_url) as store:
        start(store)
        store.add_turn("call-1", "caller", "алло", started_at=T0)

    downgrade(database_url, "base")
    assert current_revision(database_url) is None
    assert not {"calls", "turns"} & table_names(database_url)

    migrate(database_url)
    assert current_revision(database_url) == head_revision()
    with CallStore(database_url) as store:
        assert store.get_call("call-1") is None
        start(store)
        assert store.add_turn("call-1", "caller", "снова", started_at=T0) >= 1
        assert [t.seq for t in store.turns("call-1")] == [1]


def test_a_database_from_a_newer_voicebot_is_refused_clearly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'future.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="cannot migrate the database"):
        CallStore(url)


# --- a whole call --------------------------------------------------------------------------


def test_full_call_lifecycle_with_turns_and_escalation(store: CallStore) -> None:
    store.start_call(
        "call-7",
        caller=CALLER,
        called="88005553535",
        codec="pcma",
        sample_rate=8000,
        started_at=T0,
        metadata={"channel": "SIP/trunk-0001", "queue": "линия-1"},
        kb_version="kb-2025-03-01",
    )
    record = store.get_call("call-7")
    assert record is not None
    assert (record.ended_at, record.outcome, record.answered_at) == (None, None, None)

    greeting = store.add_turn(
        "call-7",
        "bot",
        "Здравствуйте! Чем могу помочь?",
        started_at=T0 + timedelta(seconds=1),
        kind="greeting",
    )
    store.update_turn(greeting, ended_at=T0 + timedelta(seconds=3), heard=True)
    question = store.add_turn(
        "call-7",
        "caller",
        "как поменять тариф",
        started_at=T0 + timedelta(seconds=4),
        ended_at=T0 + timedelta(seconds=6),
        kind="utterance",
        asr_confidence=0.87,
        alternatives=["как поменять тарифы", "как менять тариф"],
    )
    answer = store.add_turn(
        "call-7",
        "bot",
        "Сменить тариф можно в личном кабинете.",
        started_at=T0 + timedelta(seconds=7),
        kind="answer",
        entry_id="tariff-change",
        decision="answer",
        score=0.91,
        scores={"tariff-change": 0.91, "balance-check": 0.42},
    )
    store.update_turn(answer, ended_at=T0 + timedelta(seconds=8), heard=False, interrupted=True)
    dtmf = store.add_turn(
        "call-7", "caller", "0", started_at=T0 + timedelta(seconds=9), kind="dtmf"
    )
    transfer = store.add_turn(
        "call-7",
        "bot",
        "Соединяю с оператором.",
        started_at=T0 + timedelta(seconds=10),
        kind="transfer",
        decision="escalate",
    )
    escalation = Escalation(
        call_id="call-7",
        reason="caller_request",
        topic="billing",
        priority=2,
        summary="Клиент спрашивал про смену тарифа и попросил оператора.",
        turns=(Turn("caller", "как поменять тариф", T0 + timedelta(seconds=4)),),
    )
    store.end_call(
        "call-7",
        ended_at=T0 + timedelta(seconds=12),
        outcome="escalated",
        end_reason="transferred",
        escalation=escalation,
    )

    record = store.get_call("call-7")
    assert record is not None
    assert (record.caller, record.called, record.codec, record.sample_rate) == (
        CALLER,
        "88005553535",
        "pcma",
        8000,
    )
    assert record.started_at == T0
    assert record.answered_at == T0 + timedelta(seconds=1)  # the greeting answered the call
    assert record.ended_at == T0 + timedelta(seconds=12)
    assert (record.outcome, record.end_reason) == ("escalated", "transferred")
    assert (record.escalation_reason, record.escalation_topic, record.escalation_priority) == (
        "caller_request",
        "billing",
        2,
    )
    assert record.summary == escalation.summary
    assert record.metadata == {"channel": "SIP/trunk-0001", "queue": "линия-1"}
    assert record.kb_version == "kb-2025-03-01"

    turns = store.turns("call-7")
    assert [t.id for t in turns] == [greeting, question, answer, dtmf, transfer]
    assert [t.seq for t in turns] == [1, 2, 3, 4, 5]
    assert [(t.role, t.kind) for t in turns] == [
        ("bot", "greeting"),
        ("caller", "utterance"),
        ("bot", "answer"),
        ("caller", "dtmf"),
        ("bot", "transfer"),
    ]
    first, said, answered, pressed, handed = turns
    assert (first.heard, first.interrupted, first.ended_at) == (
        True,
        False,
        T0 + timedelta(seconds=3),
    )
    assert said.asr_confidence == pytest.approx(0.87)
    assert said.alternatives == ("как поменять тарифы", "как менять тариф")
    assert said.ended_at == T0 + timedelta(seconds=6)
    assert (said.heard, said.entry_id, said.decision, said.score, said.scores) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert (answered.entry_id, answered.decision) == ("tariff-change", "answer")
    assert answered.score == pytest.approx(0.91)
    assert answered.scores == {"tariff-change": 0.91, "balance-check": 0.42}
    assert (answered.heard, answered.interrupted) == (False, True)
    assert (pressed.text, pressed.alternatives) == ("0", ())
    assert (handed.decision, handed.ended_at) == ("escalate", None)
    assert all(t.call_id == "call-7" for t in turns)


def test_update_turn_keeps_what_it_is_not_given(store: CallStore) -> None:
    start(store)
    turn = store.add_turn("call-1", "bot", "Одну минуту.", started_at=T0, kind="prompt")
    store.update_turn(turn, heard=True)
    store.update_turn(turn, ended_at=T0 + timedelta(seconds=2))
    store.update_turn(turn)
    (stored,) = store.turns("call-1")
    assert (stored.heard, stored.interrupted, stored.ended_at) == (
        True,
        False,
        T0 + timedelta(seconds=2),
    )


def test_a_call_without_escalation_keeps_escalation_fields_empty(store: CallStore) -> None:
    start(store)
    store.end_call(
        "call-1", ended_at=T0 + timedelta(minutes=1), outcome="resolved_by_bot", end_reason="hangup"
    )
    record = store.get_call("call-1")
    assert record is not None
    assert record.outcome == "resolved_by_bot"
    assert (record.escalation_reason, record.escalation_topic, record.summary) == (None, None, None)
    assert record.answered_at is None  # no bot turn, none given


def test_an_explicit_answered_at_is_not_overwritten_by_the_greeting(store: CallStore) -> None:
    store.start_call(
        "call-1",
        caller=CALLER,
        called="100",
        codec="pcmu",
        sample_rate=8000,
        started_at=T0,
        answered_at=T0 + timedelta(milliseconds=300),
    )
    store.add_turn("call-1", "bot", "Здравствуйте!", started_at=T0 + timedelta(seconds=2))
    record = store.get_call("call-1")
    assert record is not None and record.answered_at == T0 + timedelta(milliseconds=300)


def test_unknown_call_reads_as_nothing(store: CallStore) -> None:
    assert store.get_call("nope") is None
    assert store.turns("nope") == []


# --- time ----------------------------------------------------------------------------------


def test_timestamps_round_trip_as_aware_utc(store: CallStore) -> None:
    moscow_start = datetime(2025, 3, 14, 12, 30, 0, 654321, tzinfo=MOSCOW)  # 09:30:00.654321Z
    store.start_call(
        "msk",
        caller=CALLER,
        called="100",
        codec="slin16",
        sample_rate=16000,
        started_at=moscow_start,
    )
    # Earlier on the wall clock of New York, yet later in absolute time.
    new_york = timezone(timedelta(hours=-5))
    start(store, "nyc", at=datetime(2025, 3, 14, 5, 0, 0, tzinfo=new_york))  # 10:00Z
    turn = store.add_turn("msk", "caller", "алло", started_at=moscow_start)
    store.update_turn(turn, ended_at=moscow_start + timedelta(microseconds=1))

    record = store.get_call("msk")
    assert record is not None
    assert record.started_at == moscow_start
    assert record.started_at.tzinfo == UTC
    assert record.started_at.hour == 9 and record.started_at.microsecond == 654321
    (stored,) = store.turns("msk")
    assert stored.started_at.tzinfo == UTC and stored.ended_at is not None
    assert stored.ended_at.tzinfo == UTC
    assert stored.ended_at - stored.started_at == timedelta(microseconds=1)
    assert [c.call_id for c in store.recent_calls()] == ["nyc", "msk"]
    since = datetime(2025, 3, 14, 12, 45, tzinfo=MOSCOW)  # 09:45Z: only the New York call
    assert [c.call_id for c in store.calls_from(CALLER, since)] == ["nyc"]


def test_naive_datetimes_are_refused_and_store_nothing(store: CallStore) -> None:
    with pytest.raises(StoreError, match="timezone-aware"):
        start(store, at=datetime(2025, 3, 14, 9, 30))
    assert store.get_call("call-1") is None
    start(store)
    with pytest.raises(StoreError, match="started_at must be timezone-aware"):
        store.add_turn("call-1", "caller", "алло", started_at=datetime(2025, 3, 14, 9, 31))
    with pytest.raises(StoreError, match="ended_at"):
        store.end_call(
            "call-1", ended_at=datetime(2025, 3, 14, 9, 32), outcome="failed", end_reason="x"
        )
    with pytest.raises(StoreError, match="since"):
        store.calls_from(CALLER, datetime(2025, 1, 1))
    assert store.turns("call-1") == []
    record = store.get_call("call-1")
    assert record is not None and record.ended_at is None


# --- concurrency ---------------------------------------------------------------------------


def test_concurrent_add_turn_from_8_threads_numbers_turns_consecutively(store: CallStore) -> None:
    start(store, "busy")
    start(store, "quiet")
    threads, per_thread = 8, 15
    barrier = threading.Barrier(threads)

    def worker(n: int) -> list[tuple[int, int]]:
        barrier.wait()
        added = []
        for i in range(per_thread):
            call_id = "quiet" if i % 5 == 4 else "busy"
            turn_id = store.add_turn(call_id, "caller", f"{n}:{i}", started_at=T0)
            added.append((i, turn_id))
        return added

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))

    busy, quiet = store.turns("busy"), store.turns("quiet")
    assert [t.seq for t in busy] == list(range(1, len(busy) + 1))
    assert [t.seq for t in quiet] == list(range(1, len(quiet) + 1))
    assert len(busy) == threads * (per_thread - 3) and len(quiet) == threads * 3
    all_ids = [turn_id for added in results for _, turn_id in added]
    assert len(set(all_ids)) == threads * per_thread
    assert {t.id for t in busy + quiet} == set(all_ids)
    # Each thread's own turns keep the order it added them in.
    seq_of = {t.text: t.seq for t in busy}
    for n in range(threads):
        mine = [seq_of[f"{n}:{i}"] for i in range(per_thread) if i % 5 != 4]
        assert mine == sorted(mine)


def test_in_memory_sqlite_is_usable_from_threads() -> None:
    with CallStore("sqlite://") as store:
        start(store)
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda n: store.add_turn("call-1", "caller", str(n), started_at=T0), range(20)
                )
            )
        assert [t.seq for t in store.turns("call-1")] == list(range(1, 21))


# --- errors --------------------------------------------------------------------------------


def test_unknown_values_are_refused_with_clear_errors(store: CallStore) -> None:
    start(store)
    with pytest.raises(StoreError, match="unknown role 'customer'") as role:
        store.add_turn("call-1", "customer", "алло", started_at=T0)
    assert role.value.code == "store_error" and isinstance(role.value, VoicebotError)
    with pytest.raises(StoreError, match="unknown kind 'greeting' for a caller turn"):
        store.add_turn("call-1", "caller", "алло", started_at=T0, kind="greeting")
    with pytest.raises(StoreError, match="unknown decision 'maybe'"):
        store.add_turn("call-1", "bot", "Да.", started_at=T0, decision="maybe")
    with pytest.raises(StoreError, match="score must be a number"):
        store.add_turn("call-1", "bot", "Да.", started_at=T0, score="high")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=r"unknown outcome 'hung_up'.*resolved_by_bot"):
        store.end_call("call-1", ended_at=T0, outcome="hung_up", end_reason="bye")
    with pytest.raises(StoreError, match="limit must be at least 1"):
        store.recent_calls(0)
    with pytest.raises(StoreError, match="call_id must be a non-empty string"):
        start(store, "")
    assert store.turns("call-1") == []
    record = store.get_call("call-1")
    assert record is not None and record.outcome is None


def test_turns_and_ends_for_unknown_calls_or_turns_are_refused(store: CallStore) -> None:
    with pytest.raises(CallNotFoundError, match="unknown call 'ghost'") as missing:
        store.add_turn("ghost", "caller", "алло", started_at=T0)
    assert missing.value.code == "call_not_found"
    with pytest.raises(CallNotFoundError):
        store.end_call("ghost", ended_at=T0, outcome="failed", end_reason="x")
    with pytest.raises(TurnNotFoundError, match="no turn with id 424242") as no_turn:
        store.update_turn(424242, heard=True)
    assert no_turn.value.code == "turn_not_found"
    assert store.get_call("ghost") is None


def test_starting_a_call_twice_is_refused_and_keeps_the_first(store: CallStore) -> None:
    start(store, caller="+79990000001")
    with pytest.raises(DuplicateCallError, match="'call-1' was already started") as twice:
        start(store, caller="+79990000002", at=T0 + timedelta(hours=1))
    assert twice.value.code == "call_exists" and isinstance(twice.value, StoreError)
    record = store.get_call("call-1")
    assert record is not None
    assert (record.caller, record.started_at) == ("+79990000001", T0)


def test_ending_a_call_twice_is_refused_and_keeps_the_first_end(store: CallStore) -> None:
    start(store)
    store.end_call(
        "call-1", ended_at=T0 + timedelta(minutes=2), outcome="no_input", end_reason="silence"
    )
    with pytest.raises(
        CallAlreadyEndedError, match=r"already ended .* the first end is kept"
    ) as again:
        store.end_call(
            "call-1", ended_at=T0 + timedelta(minutes=3), outcome="failed", end_reason="x"
        )
    assert again.value.code == "call_already_ended"
    record = store.get_call("call-1")
    assert record is not None
    assert (record.ended_at, record.outcome, record.end_reason) == (
        T0 + timedelta(minutes=2),
        "no_input",
        "silence",
    )
    # Late turns (a playback mark after the hang-up, an operator's note) are still recorded.
    late = store.add_turn(
        "call-1", "operator", "перезвонить завтра", started_at=T0 + timedelta(minutes=5)
    )
    assert [(t.id, t.seq, t.role) for t in store.turns("call-1")] == [(late, 1, "operator")]


def test_an_escalation_of_another_call_is_refused(store: CallStore) -> None:
    start(store)
    other = Escalation("call-2", "caller_request", "billing", 1, "Итог", ())
    with pytest.raises(StoreError, match="escalation of call 'call-2'"):
        store.end_call("call-1", ended_at=T0, outcome="escalated", end_reason="x", escalation=other)
    record = store.get_call("call-1")
    assert record is not None and record.ended_at is None


# --- queries -------------------------------------------------------------------------------


def test_recent_calls_and_calls_from_filter_and_order_newest_first(store: CallStore) -> None:
    a, b = "+79000000001", "+79000000002"
    # Started out of order on purpose.
    for call_id, caller, minutes in [
        ("a2", a, 20),
        ("b1", b, 5),
        ("a1", a, 0),
        ("a3", a, 40),
        ("b2", b, 30),
    ]:
        start(store, call_id, caller=caller, at=T0 + timedelta(minutes=minutes))

    assert [c.call_id for c in store.recent_calls()] == ["a3", "b2", "a2", "b1", "a1"]
    assert [c.call_id for c in store.recent_calls(2)] == ["a3", "b2"]
    assert [c.call_id for c in store.recent_calls(caller=a)] == ["a3", "a2", "a1"]
    assert [c.call_id for c in store.recent_calls(1, caller=b)] == ["b2"]
    assert store.recent_calls(caller="+70000000000") == []

    assert [c.call_id for c in store.calls_from(a, T0 + timedelta(minutes=20))] == ["a3", "a2"]
    assert [c.call_id for c in store.calls_from(a, T0 + timedelta(minutes=20, microseconds=1))] == [
        "a3"
    ]
    assert [c.call_id for c in store.calls_from(b, T0)] == ["b2", "b1"]
    assert store.calls_from(a, T0 + timedelta(hours=1)) == []


def test_sqlite_queries_use_the_indexes(tmp_path: Path) -> None:
    """Reports will run over a million calls: no full scans or sorts for the store's queries."""
    with CallStore(f"sqlite:///{tmp_path / 'plan.db'}") as store:
        start(store)
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
            if sql.lstrip().upper().startswith("SELECT"):
                statements.append((sql, params))

        event.listen(store.engine, "before_cursor_execute", capture)
        store.recent_calls(10)
        store.recent_calls(10, caller=CALLER)
        store.calls_from(CALLER, T0)
        store.turns("call-1")
        event.remove(store.engine, "before_cursor_execute", capture)

        assert len(statements) == 4
        with store.engine.connect() as conn:
            plans = [
                " | ".join(
                    row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
                )
                for sql, params in statements
            ]
    assert "USING INDEX ix_calls_started_at" in plans[0]
    assert "USING INDEX ix_calls_caller_started_at" in plans[1]
    assert "USING INDEX ix_calls_caller_started_at" in plans[2]
    assert "USING INDEX sqlite_autoindex_turns_1" in plans[3]  # the (call_id, seq) unique index
    for plan in plans:
        assert "TEMP B-TREE" not in plan, plan


# --- text ----------------------------------------------------------------------------------


def test_long_cyrillic_text_is_stored_whole(store: CallStore) -> None:
    long_text = ("Ёжик в тумане спросил: «где мой тариф?» " * 300)[:10_000]
    assert len(long_text) == 10_000
    store.start_call(
        "длинный-звонок",
        caller="Иван",
        called="горячая линия",
        codec="pcmu",
        sample_rate=8000,
        started_at=T0,
        metadata={"оператор": "Мария Ёлкина"},
    )
    store.add_turn(
        "длинный-звонок",
        "caller",
        long_text,
        started_at=T0,
        alternatives=["ёжик в тумане", "ежик в тумане"],
    )
    escalation = Escalation("длинный-звонок", "жалоба", "complaints", 3, long_text, ())
    store.end_call(
        "длинный-звонок",
        ended_at=T0,
        outcome="escalated",
        end_reason="перевод",
        escalation=escalation,
    )
    (turn,) = store.turns("длинный-звонок")
    assert turn.text == long_text
    assert turn.alternatives == ("ёжик в тумане", "ежик в тумане")
    record = store.get_call("длинный-звонок")
    assert record is not None
    assert (record.caller, record.called, record.end_reason) == ("Иван", "горячая линия", "перевод")
    assert record.metadata == {"оператор": "Мария Ёлкина"}
    assert record.summary == long_text and record.escalation_reason == "жалоба"
    assert [c.call_id for c in store.calls_from("Иван", T0)] == ["длинный-звонок"]


def test_values_the_databases_cannot_hold_are_repaired_not_lost(store: CallStore) -> None:
    start(store)
    store.add_turn(
        "call-1",
        "bot",
        "нул\x00ь? и суррогат \ud800?",
        started_at=T0,
        score=float("nan"),
        scores={"a": np.float32(0.5), "b": float("inf"), "c": np.float64(0.25)},  # type: ignore[dict-item]
        asr_confidence=np.float32(0.75),  # type: ignore[arg-type]
        alternatives="одна строка",
    )
    (turn,) = store.turns("call-1")
    assert turn.text == "нул\ufffdь? и суррогат \ufffd?"
    assert turn.score is None
    assert turn.scores == {"a": 0.5, "b": None, "c": 0.25}
    assert turn.asr_confidence == 0.75 and not math.isnan(turn.asr_confidence)
    assert turn.alternatives == ("одна строка",)


# --- configuration -------------------------------------------------------------------------


def test_default_database_url_creates_the_folder_and_works(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    url = default_database_url(data_dir)
    assert data_dir.is_dir()
    assert url == f"sqlite:///{data_dir.resolve() / 'voicebot.db'}"
    with CallStore(url) as store:
        start(store)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (data_dir / "voicebot.db").is_file()


def test_a_bare_postgresql_url_means_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_a_bad_database_url_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot use database URL"):
        CallStore("nosuchdb://nowhere")
    with pytest.raises(StoreError, match="cannot migrate the database"):
        CallStore(f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}")


def test_post_call_rating_is_kept_and_checked(store: CallStore) -> None:
    start(store)
    unrated = store.get_call("call-1")
    assert unrated is not None and unrated.rating is None
    store.set_rating("call-1", 4)
    record = store.get_call("call-1")
    assert record is not None and record.rating == 4
    with pytest.raises(StoreError, match="1 to 5"):
        store.set_rating("call-1", 6)
    with pytest.raises(CallNotFoundError):
        store.set_rating("no-such-call", 3)
