"""One conformance suite for every PBX adapter, each driven by a client that speaks its wire format.

The bridge runs in uvicorn on loopback (WebSocket routes plus AudioSocket's TCP server), with a
real SQLite call store and the real dialogue policy and matcher; speech engines are the fakes
of tests/call_fakes.py (same protocols as the real ones), so timings are exact: a 20 ms frame
of constant level is speech, zeros are silence, the recogniser hears its script in order and
the bot's speech is a tone of 20 ms per character. The engines with real models are covered by
tests/test_bridge_e2e.py; here the subject is the wire protocols.

Every client streams caller audio in real time, as a PBX does.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from bridge_server import serving
from call_fakes import LevelDetector, ScriptedRecognizers, ToneSpeech, speech
from pbx_clients.base import Endpoints, PbxClient

from telephony_bridge.app import BridgeConfig, create_app
from voicebot.call import CallEngines, CallSettings
from voicebot.dialogue import DialoguePolicy
from voicebot.embedding import HashingEmbedder
from voicebot.knowledge import load_knowledge_base
from voicebot.matcher import Matcher
from voicebot.store import CallStore
from voicebot.store.calls import CallRecord
from voicebot.text import IdentityLemmatizer

TOKEN = "conformance-secret"
FRAME_S = 0.02
SECONDS_PER_CHAR = 0.02  # the fake voice: a 50-character greeting lasts one second
GREETING = "Здравствуйте, это тестовая линия. Чем могу помочь?"
QUESTION = "как узнать баланс"

# (client id, module in tests/pbx_clients, factory name, protocol facts the suite relies on)
CLIENTS: list[tuple[str, str, str]] = [
    ("generic", "generic", "make_client"),
    ("audiosocket", "audiosocket", "make_client"),
    ("audiosocket_slin16", "audiosocket", "make_slin16_client"),
    ("asterisk_json", "asterisk_websocket", "make_client"),
    ("asterisk_text", "asterisk_websocket", "make_plain_text_client"),
    ("freeswitch_fork", "freeswitch", "make_fork_client"),
    ("freeswitch_stream", "freeswitch", "make_stream_client"),
    ("twilio", "twilio", "make_client"),
    ("jambonz", "jambonz", "make_client"),
    ("jambonz_16k", "jambonz", "make_wideband_client"),
]
# Protocols that carry no flush instruction: barge-in shows as the bot's audio stopping.
NO_FLUSH = {"audiosocket", "audiosocket_slin16"}
# Protocols whose PBX learns the transfer target by its own mechanism: an instruction on the wire
# (generic) or the web hook it calls when the stream ends (Twilio's <Connect action>, jambonz's
# actionHook). The others read the route at /calls/{id}/route from the dialplan.
WIRE_TRANSFER = {
    "generic",
    "freeswitch_fork",
    "freeswitch_stream",
    "twilio",
    "jambonz",
    "jambonz_16k",
}
# Protocols without authentication of their own (AudioSocket: protect it by network).
NO_AUTH = {"audiosocket", "audiosocket_slin16"}


def _kb(root: Path) -> Path:
    bot = {
        "name": "Тестовая линия",
        "language": "ru",
        "greeting": GREETING,
        "topics": {"billing": {"title": "Оплата"}, "tech": {"title": "Техподдержка"}},
        "thresholds": {"answer": 0.6, "clarify": 0.45, "margin": 0.04},
    }
    faq = [
        {
            "id": "balance-check",
            "topic": "billing",
            "questions": ["как узнать баланс", "сколько денег на счету", "проверить остаток"],
            "answer": "Баланс можно узнать в личном кабинете.",
        },
        {
            "id": "internet-down",
            "topic": "tech",
            "questions": ["не работает интернет", "пропал интернет", "роутер не горит"],
            "answer": "Перезагрузите роутер.",
        },
    ]
    (root / "faq").mkdir(parents=True)
    (root / "bot.yaml").write_text(yaml.safe_dump(bot, allow_unicode=True), encoding="utf-8")
    (root / "faq" / "all.yaml").write_text(yaml.safe_dump(faq, allow_unicode=True), "utf-8")
    return root


@dataclass
class Bridge:
    endpoints: Endpoints
    store: CallStore

    def record(self, call_id: str) -> CallRecord | None:
        """The call's record once it is complete: the bridge may finish writing it a moment
        after the connection closed (the store works off the event loop)."""
        deadline = time.monotonic() + 2
        record = self.store.get_call(call_id)
        while (record is None or record.ended_at is None) and time.monotonic() < deadline:
            time.sleep(0.02)
            record = self.store.get_call(call_id)
        return record

    def route(self, call_id: str) -> dict[str, Any]:
        reply = httpx.get(
            f"{self.endpoints.http}/calls/{call_id}/route", params={"token": TOKEN}, timeout=5
        )
        reply.raise_for_status()
        return cast(dict[str, Any], reply.json())


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    tmp = tmp_path_factory.mktemp("conformance")
    kb = load_knowledge_base(_kb(tmp / "kb"))
    matcher = Matcher(kb, HashingEmbedder(), IdentityLemmatizer(), cache_dir=tmp / "cache")
    store = CallStore(f"sqlite:///{tmp / 'calls.db'}")
    engines = CallEngines(
        matcher=matcher,
        policy=DialoguePolicy(kb),
        recognizers=ScriptedRecognizers([QUESTION, "нет спасибо"]),
        new_detector=LevelDetector,
        speech=ToneSpeech(seconds_per_char=SECONDS_PER_CHAR),
        recorder=store,
    )
    config = BridgeConfig(token=TOKEN, call=CallSettings(silence_timeout_s=1.5), audiosocket_port=0)
    app = create_app(config, engines)
    with serving(app) as port:
        tcp_port = app.state.runtime.audiosocket_port or 0  # 0: no AudioSocket adapter
        endpoints = Endpoints(
            http=f"http://127.0.0.1:{port}",
            ws=f"ws://127.0.0.1:{port}",
            tcp_host="127.0.0.1",
            tcp_port=tcp_port,
            token=TOKEN,
        )
        yield Bridge(endpoints, store)
    store.close()


Factory = Callable[[Endpoints], PbxClient]


@pytest.fixture(params=CLIENTS, ids=[c[0] for c in CLIENTS])
def pbx(request: pytest.FixtureRequest) -> tuple[str, Factory]:
    client_id, module_name, factory = request.param
    try:
        module = importlib.import_module(f"pbx_clients.{module_name}")
    except ModuleNotFoundError:
        pytest.skip(f"no client module pbx_clients.{module_name} yet")
    return client_id, cast(Factory, getattr(module, factory))


# --- the caller's side ------------------------------------------------------------------------


async def talk(client: PbxClient, pcm: bytes, until: Callable[[], bool] | None = None) -> None:
    """Stream PCM16 in 20 ms frames paced by the wall clock; stop early once `until()`."""
    size = round(client.rate * FRAME_S) * 2
    began = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), size)):
        if until is not None and until():
            return
        await client.send_audio(pcm[offset : offset + size].ljust(size, b"\0"))
        delay = began + (index + 1) * FRAME_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def quiet(client: PbxClient, seconds: float) -> bytes:
    return silence_at(client.rate, seconds)


def silence_at(rate: int, seconds: float) -> bytes:
    return bytes(2 * round(rate * seconds))


def voice(client: PbxClient, seconds: float) -> bytes:
    """'Speech' for the fake detector and recogniser at the client's rate."""
    if client.rate == 8000:
        return speech(seconds)
    return speech(seconds * client.rate / 8000)


def audio_seconds(client: PbxClient, since: float = 0.0) -> float:
    return sum(len(pcm) for at, pcm in client.heard.audio if at >= since) / 2 / client.rate


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def _call_id(client_id: str, test: str) -> str:
    return f"{client_id}-{test}-{time.monotonic_ns()}"


# --- the suite --------------------------------------------------------------------------------


def test_start_paced_greeting_and_caller_hang_up(bridge: Bridge, pbx: tuple[str, Factory]) -> None:
    client_id, factory = pbx
    client = factory(bridge.endpoints)

    async def call() -> None:
        await client.start(_call_id(client_id, "start"), "+79161234567", "88001234567")
        greeting_s = len(GREETING) * SECONDS_PER_CHAR
        await talk(client, quiet(client, greeting_s + 0.6))
        await client.hang_up()
        assert await client.wait_closed(5), "the bridge did not close after the hang-up"

    try:
        run(call())
    finally:
        run(client.close())
    audio = client.heard.audio
    assert audio_seconds(client) == pytest.approx(len(GREETING) * SECONDS_PER_CHAR, abs=0.05)
    # Paced: audio never runs ahead of the wall clock by more than the prebuffer and one message.
    first = audio[0][0]
    received = 0.0
    for at, pcm in audio:
        received += len(pcm) / 2 / client.rate
        assert received <= (at - first) + 0.3, f"{received:.2f} s of audio after {at - first:.2f} s"
    record = bridge.record(client.call_id)
    assert record is not None and record.ended_at is not None
    assert (record.caller, record.called) == ("+79161234567", "88001234567")
    assert record.outcome not in ("", "protocol_error", "escalated")
    greeting = bridge.store.turns(client.call_id)[0]
    assert greeting.kind == "greeting" and greeting.heard is True


def test_question_answered_and_marks_record_what_was_heard(
    bridge: Bridge, pbx: tuple[str, Factory]
) -> None:
    client_id, factory = pbx
    client = factory(bridge.endpoints)

    async def call() -> None:
        await client.start(_call_id(client_id, "answer"), "+79160000001", "88001234567")
        await talk(client, quiet(client, len(GREETING) * SECONDS_PER_CHAR + 0.3))
        await talk(client, voice(client, 0.6) + quiet(client, 3.0))
        await client.hang_up()

    try:
        run(call())
    finally:
        run(client.close())
    turns = bridge.store.turns(client.call_id)
    caller = [t for t in turns if t.role == "caller"]
    assert caller and caller[0].text == QUESTION and caller[0].entry_id == "balance-check"
    answer = next(t for t in turns if t.kind == "answer")
    assert answer.entry_id == "balance-check"
    assert answer.heard is True and answer.interrupted is False
    assert audio_seconds(client) > (len(GREETING) + len(answer.text)) * SECONDS_PER_CHAR - 0.05


def test_barge_in_flushes_within_200_ms(bridge: Bridge, pbx: tuple[str, Factory]) -> None:
    client_id, factory = pbx
    client = factory(bridge.endpoints)
    spoke_at: list[float] = []

    async def call() -> None:
        await client.start(_call_id(client_id, "barge"), "+79160000002", "88001234567")
        await talk(client, quiet(client, 2.0), until=lambda: audio_seconds(client) >= 0.3)
        spoke_at.append(time.monotonic())
        await talk(client, voice(client, 0.5) + quiet(client, 0.2))
        await client.hang_up()

    try:
        run(call())
    finally:
        run(client.close())
    assert spoke_at, "the greeting never started"
    speech_began = spoke_at[0]
    if client_id in NO_FLUSH:
        stopped = max(at for at, _ in client.heard.audio if at < speech_began + 0.5)
        assert stopped - speech_began <= 0.2, f"audio went on {stopped - speech_began:.3f} s"
    else:
        assert client.heard.clears, "no flush instruction"
        flushed = client.heard.clears[0] - speech_began
        assert flushed <= 0.2, f"flushed {flushed:.3f} s after the caller began"
        late = [at for at, _ in client.heard.audio if client.heard.clears[0] + 0.03 < at]
        assert all(at > speech_began + 0.5 for at in late), "audio after the flush"
    greeting = bridge.store.turns(client.call_id)[0]
    assert greeting.kind == "greeting" and greeting.interrupted is True and greeting.heard is False


def test_dtmf_zero_transfers_to_a_person(bridge: Bridge, pbx: tuple[str, Factory]) -> None:
    client_id, factory = pbx
    client = factory(bridge.endpoints)

    async def call() -> None:
        await client.start(_call_id(client_id, "dtmf"), "+79160000003", "88001234567")
        await talk(client, quiet(client, 0.3))
        try:
            await client.send_dtmf("0")
        except NotImplementedError as gap:
            pytest.skip(str(gap))
        await talk(client, quiet(client, 6.0), until=lambda: client.heard.closed_at is not None)
        assert await client.wait_closed(5), "the stream did not end after the transfer"
        for _ in range(100):  # a PBX's web hook runs after the stream has closed
            if client.heard.transfers or client_id not in WIRE_TRANSFER:
                break
            await asyncio.sleep(0.02)

    try:
        run(call())
    finally:
        run(client.close())
    route = bridge.route(client.call_id)
    assert route["action"] == "transfer" and route["target"], route
    assert route["context"]["reason"]
    if client_id in WIRE_TRANSFER:
        assert client.heard.transfers and client.heard.transfers[0][0] == route["target"]
    record = bridge.record(client.call_id)
    assert record is not None and record.outcome == "escalated"
    dtmf = [t for t in bridge.store.turns(client.call_id) if t.role == "caller"]
    assert dtmf and dtmf[0].text == "[DTMF 0]"


def test_silent_caller_is_asked_then_the_bot_hangs_up(
    bridge: Bridge, pbx: tuple[str, Factory]
) -> None:
    client_id, factory = pbx
    client = factory(bridge.endpoints)

    async def call() -> None:
        await client.start(_call_id(client_id, "silent"), "+79160000004", "88001234567")
        await talk(client, quiet(client, 15.0), until=lambda: client.heard.closed_at is not None)
        assert await client.wait_closed(5), "the bot did not end the call"

    try:
        run(call())
    finally:
        run(client.close())
    assert bridge.route(client.call_id)["action"] == "hangup"
    record = bridge.record(client.call_id)
    assert record is not None and record.outcome == "no_input"
    said = [t.kind for t in bridge.store.turns(client.call_id) if t.role == "bot"]
    assert said[0] == "greeting" and len(said) >= 3, said


@pytest.mark.parametrize("bad", ["malformed", "oversized"])
def test_bad_input_is_refused_cleanly_and_the_record_kept(
    bridge: Bridge, pbx: tuple[str, Factory], bad: str
) -> None:
    client_id, factory = pbx
    client = factory(bridge.endpoints)

    async def call() -> None:
        await client.start(_call_id(client_id, bad), "+79160000005", "88001234567")
        await talk(client, quiet(client, 0.2))
        await (client.send_malformed() if bad == "malformed" else client.send_oversized())
        assert await client.wait_closed(5), "the bridge kept the connection open"

    try:
        run(call())
    finally:
        run(client.close())
    if client.heard.close_code is not None:  # WebSockets: a policy close, not an abort
        assert client.heard.close_code in (1003, 1007, 1008, 1009), client.heard.close_code
    record = bridge.record(client.call_id)
    assert record is not None and record.outcome == "protocol_error"
    assert record.ended_at is not None


def test_wrong_token_is_refused(bridge: Bridge, pbx: tuple[str, Factory]) -> None:
    client_id, factory = pbx
    if client_id in NO_AUTH:
        pytest.skip(f"{client_id} has no authentication: bind it to a private network")
    wrong = Endpoints(**{**bridge.endpoints.__dict__, "token": "wrong"})
    client = factory(wrong)

    async def call() -> None:
        try:
            await client.start(_call_id(client_id, "token"), "+79160000006", "88001234567")
        except Exception:  # some clients notice the refusal at once
            return
        await talk(client, quiet(client, 1.0), until=lambda: client.heard.closed_at is not None)
        assert await client.wait_closed(5)

    try:
        run(call())
    finally:
        run(client.close())
    assert client.heard.close_code == 4401
    assert bridge.store.get_call(client.call_id) is None
