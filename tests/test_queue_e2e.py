"""The operator queue end to end: a call over the real bridge (generic protocol on loopback)
escalates into the real queue store (SQLite file), hears the estimated wait, and is transferred
to the extension of the operator who takes it; or asks for a callback; or hangs up waiting.

Speech engines are the fakes of tests/call_fakes.py; the queue, the card rules, the working
hours and the wait estimate are the real ones (voicebot.desk).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from bridge_server import serving
from call_fakes import LevelDetector, ScriptedRecognizers, ToneSpeech
from pbx_clients.base import Endpoints
from pbx_clients.generic import GenericClient
from sqlalchemy import insert

from telephony_bridge.app import BridgeConfig, create_app
from voicebot.call import CallEngines
from voicebot.desk import build_desk, spoken_wait
from voicebot.dialogue import DialoguePolicy
from voicebot.embedding import HashingEmbedder
from voicebot.holding import HoldSettings
from voicebot.knowledge import load_knowledge_base
from voicebot.matcher import Matcher
from voicebot.queue import WaitInputs
from voicebot.store import CallStore
from voicebot.store.queue import QueueStore
from voicebot.store.schema import OperatorRow
from voicebot.text import IdentityLemmatizer

TOKEN = "queue-secret"
FRAME = bytes(320)  # 20 ms of silence, PCM16 8 kHz


@dataclass
class Desk:
    endpoints: Endpoints
    calls: CallStore
    queue: QueueStore


def _kb(root: Path) -> Path:
    bot = {
        "name": "Тестовая линия",
        "language": "ru",
        "greeting": "Здравствуйте!",
        "topics": {
            "billing": {"title": "Оплата"},
            "complaints": {"title": "Жалобы", "urgent": True},
        },
    }
    faq = [
        {
            "id": "balance-check",
            "topic": "billing",
            "questions": ["как узнать баланс", "сколько денег на счету"],
            "answer": "В личном кабинете.",
        }
    ]
    (root / "faq").mkdir(parents=True)
    (root / "bot.yaml").write_text(yaml.safe_dump(bot, allow_unicode=True), "utf-8")
    (root / "faq" / "all.yaml").write_text(yaml.safe_dump(faq, allow_unicode=True), "utf-8")
    return root


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    kb = load_knowledge_base(_kb(tmp_path / "kb"))
    url = f"sqlite:///{tmp_path / 'voicebot.db'}"
    calls, queue = CallStore(url), QueueStore(url)
    with queue.engine.begin() as connection:  # an operator exists (the console creates them)
        connection.execute(
            insert(OperatorRow),
            {
                "login": "anna",
                "name": "Анна",
                "role": "operator",
                "password_hash": "-",
                "extension": "101",
                "topics": [],
                "created_at": datetime.now(UTC),
            },
        )
    queue.set_presence("anna", "available", datetime.now(UTC))
    engines = CallEngines(
        matcher=Matcher(kb, HashingEmbedder(), IdentityLemmatizer(), cache_dir=tmp_path / "c"),
        policy=DialoguePolicy(kb),
        recognizers=ScriptedRecognizers([]),
        new_detector=LevelDetector,
        speech=ToneSpeech(seconds_per_char=0.005),
        recorder=calls,
        handoff=build_desk(
            kb,
            queue,
            calls.calls_from,
            lambda: datetime.now(UTC),
            settings=HoldSettings(poll_every_s=0.2),
            staffed=lambda: bool(queue.operators()),
        ),
    )
    app = create_app(BridgeConfig(token=TOKEN), engines)
    with serving(app) as port:
        endpoints = Endpoints(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", "", 0, TOKEN)
        yield Desk(endpoints, calls, queue)
    calls.close()
    queue.close()


async def _line_open(client: GenericClient, until: Callable[[], bool], seconds: float) -> None:
    """Keep streaming silence (as a PBX does) until `until()` or the time is up."""
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        await client.send_audio(FRAME)
        await asyncio.sleep(0.02)


async def _closing(client: GenericClient, call: Coroutine[Any, Any, None]) -> None:
    """Run the call, closing the client in the same event loop whatever happens."""
    try:
        await asyncio.wait_for(call, 30)
    finally:
        await client.close()


def _said(client: GenericClient) -> list[str]:
    return [str(e["text"]) for e in client.heard.other if e.get("event") == "say"]


def _wait_for(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert check()


def test_an_escalated_call_waits_then_goes_to_the_operator_who_took_it(desk: Desk) -> None:
    client = GenericClient(desk.endpoints)

    async def call() -> None:
        await client.start("q-1", "+79161234567", "88001234567")
        await _line_open(client, lambda: bool(client.heard.marks), 3)  # the greeting played
        await client.send_dtmf("0")
        await _line_open(client, lambda: bool(desk.queue.waiting()), 5)
        waiting = desk.queue.waiting()
        assert [e.call_id for e in waiting] == ["q-1"]
        await _line_open(client, lambda: len(_said(client)) >= 3, 5)  # the wait is announced
        gauges = httpx.get(f"{desk.endpoints.http}/metrics").text
        assert 'voicebot_queue_waiting{topic="general"} 1.0' in gauges
        taken = desk.queue.take(waiting[0].id, "anna", "", datetime.now(UTC))
        assert taken is not None and taken.extension == "101"
        await _line_open(client, lambda: client.heard.closed_at is not None, 5)

    asyncio.run(_closing(client, call()))
    said = _said(client)
    wait = spoken_wait(WaitInputs(ahead=0, operators_available=1, operators_busy=0))
    assert any(s.startswith(wait) and "перезвоните" in s for s in said), said
    assert client.heard.transfers and client.heard.transfers[0][0] == "101"
    context = client.heard.transfers[0][1]
    assert context["reason"] == "caller_request" and context["queue_entry"]
    card = desk.queue.active("anna")[0].card
    assert card["caller"] == "+79161234567" and "summary" in card
    _wait_for(lambda: (r := desk.calls.get_call("q-1")) is not None and r.ended_at is not None)
    record = desk.calls.get_call("q-1")
    assert record is not None and record.outcome == "escalated"
    metrics = httpx.get(f"{desk.endpoints.http}/metrics").text
    assert 'voicebot_queue_wait_seconds_count{result="taken"} 1.0' in metrics
    assert "voicebot_queue_waiting{" not in metrics  # nobody waits any more


def test_key_one_turns_the_wait_into_a_callback(desk: Desk) -> None:
    client = GenericClient(desk.endpoints)

    async def call() -> None:
        await client.start("q-2", "+79160000002", "88001234567")
        await _line_open(client, lambda: bool(client.heard.marks), 3)
        await client.send_dtmf("0")
        await _line_open(client, lambda: bool(desk.queue.waiting()), 5)
        await client.send_dtmf("1")
        await _line_open(client, lambda: client.heard.closed_at is not None, 8)

    asyncio.run(_closing(client, call()))
    assert not desk.queue.waiting()
    callbacks = desk.queue.callbacks()
    assert [c.caller for c in callbacks] == ["+79160000002"] and callbacks[0].call_id == "q-2"
    assert client.heard.hangups == ["callback_requested"]
    _wait_for(lambda: (r := desk.calls.get_call("q-2")) is not None and r.ended_at is not None)
    record = desk.calls.get_call("q-2")
    assert record is not None and record.outcome == "callback_requested"


def test_hanging_up_in_the_queue_is_an_abandoned_call(desk: Desk) -> None:
    client = GenericClient(desk.endpoints)

    async def call() -> None:
        await client.start("q-3", "+79160000003", "88001234567")
        await _line_open(client, lambda: bool(client.heard.marks), 3)
        await client.send_dtmf("0")
        await _line_open(client, lambda: bool(desk.queue.waiting()), 5)
        await client.hang_up()

    asyncio.run(_closing(client, call()))
    _wait_for(lambda: (r := desk.calls.get_call("q-3")) is not None and r.ended_at is not None)
    record = desk.calls.get_call("q-3")
    assert record is not None and record.outcome == "abandoned"
    assert not desk.queue.waiting()
