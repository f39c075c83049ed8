"""The PBX simulator against a real WebSocket server on loopback: a tiny scripted bot.

The bot follows docs/bridge-protocol.md: it checks the token, reads `start`, waits for caller
audio, says something in paced 20 ms frames (with a prebuffer, like voicebot's player), sends a
mark, waits for the echo and hangs up or transfers. The caller "speech" is a tone burst, so the
test knows exactly where the utterance ends.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from click.testing import CliRunner
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from telephony_bridge.simulator import (
    CallRefusedError,
    CallReport,
    Utterance,
    find_utterances,
    simulate_call,
)
from voicebot.audio import Codec, decode, encode
from voicebot.cli_call import call_command

TOKEN = "s3cret"
FRAME_S = 0.02
INPUT_RATE = 16000
SPEECH = (0.5, 1.5)  # where the caller's tone burst is, seconds into the recording


def tone(seconds: float, rate: int, hz: float = 440.0, amplitude: int = 9000) -> bytes:
    """A sine tone, PCM16."""
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


def silence(seconds: float, rate: int) -> bytes:
    """PCM16 zeros."""
    return bytes(2 * round(seconds * rate))


def caller_recording(total_s: float = 4.0, rate: int = INPUT_RATE) -> bytes:
    """Silence, a 1 s tone burst standing in for speech, silence."""
    start, end = SPEECH
    head = silence(start, rate) + tone(end - start, rate, hz=300.0)
    return head + silence(total_s - end, rate)


def loud_frames(pcm: bytes, rate: int) -> list[int]:
    """Indexes of the 20 ms frames above -40 dBFS."""
    size = round(rate * FRAME_S)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    count = len(samples) // size
    rms = np.sqrt(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1))
    return [int(i) for i in np.flatnonzero(rms > 32768 * 10 ** (-40 / 20))]


# --- the scripted bot -----------------------------------------------------------------------


@dataclass
class Script:
    """What the bot does on a call."""

    respond_after_s: float = 2.5  # seconds of caller audio before it answers
    phrase_s: float = 1.0
    pause_at_s: float | None = None  # a stall in the middle of the phrase
    pause_s: float = 0.3
    burst_and_clear: bool = False  # unpaced phrases; the second one cut by a clear
    end: str = "hangup"  # hangup | transfer | none


@dataclass
class Seen:
    """What the bot observed (written by the server thread, read after `done`)."""

    start: dict[str, Any] = field(default_factory=dict)
    caller_pcm: bytearray = field(default_factory=bytearray)
    controls: list[dict[str, Any]] = field(default_factory=list)
    echo_delays: dict[str, float] = field(default_factory=dict)  # mark -> seconds after sending
    first_frame_to_echo: dict[str, float] = field(default_factory=dict)
    refused: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class ScriptedBot:
    """A websockets server on a loopback port, in its own thread and event loop."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen = Seen()
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/call"

    def __enter__(self) -> ScriptedBot:
        self._thread.start()
        assert self._ready.wait(5), "scripted bot did not start"
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(5)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        async with serve(self._handle, "127.0.0.1", 0, compression=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            await self._call(ws)
        except ConnectionClosed:
            pass
        finally:
            self.seen.done.set()

    async def _call(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        given = query.get("token", [""])[0]
        header = ws.request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        if given != TOKEN:
            self.seen.refused = True
            await ws.send(json.dumps({"event": "error", "code": "unauthorized", "message": "bad"}))
            await ws.close(4401, "unauthorized")
            return
        start = json.loads(await ws.recv())
        assert start["event"] == "start"
        self.seen.start = start
        codec, rate = cast(Codec, start["codec"]), int(start["sample_rate"])
        enough = asyncio.Event()
        echoes: dict[str, asyncio.Future[float]] = {}
        reader = asyncio.create_task(self._read(ws, codec, rate, enough, echoes))
        waiting = asyncio.create_task(enough.wait())
        await asyncio.wait({reader, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if reader.done():  # the caller hung up before the bot said anything
            waiting.cancel()
            return
        await ws.send(json.dumps({"event": "transcript", "text": "проверка связи", "final": True}))
        await ws.send(json.dumps({"event": "say", "text": "Слышу вас хорошо", "kind": "answer"}))
        if self.script.burst_and_clear:
            await self._burst_and_clear(ws, codec, rate, echoes)
        else:
            first, sent = await self._paced(ws, codec, rate, "m1")
            echoed = await self._echo(echoes, "m1")
            self.seen.echo_delays["m1"] = echoed - sent
            self.seen.first_frame_to_echo["m1"] = echoed - first
        if self.script.end == "hangup":
            await ws.send(json.dumps({"event": "hangup", "reason": "caller_finished"}))
        elif self.script.end == "transfer":
            context = {"reason": "caller_asked", "summary": "Абонент: проверка", "priority": "1"}
            message = {"event": "transfer", "target": "billing", "context": context}
            await ws.send(json.dumps(message))
        await asyncio.wait_for(reader, 10)

    async def _read(
        self,
        ws: ServerConnection,
        codec: Codec,
        rate: int,
        enough: asyncio.Event,
        echoes: dict[str, asyncio.Future[float]],
    ) -> None:
        loop = asyncio.get_running_loop()
        async for message in ws:
            if isinstance(message, bytes):
                self.seen.caller_pcm += decode(message, codec)
                if len(self.seen.caller_pcm) / 2 / rate >= self.script.respond_after_s:
                    enough.set()
                continue
            data = json.loads(message)
            self.seen.controls.append(data)
            if data["event"] == "mark":
                echoes.setdefault(data["name"], loop.create_future()).set_result(loop.time())
            elif data["event"] == "stop":
                return

    async def _echo(self, echoes: dict[str, asyncio.Future[float]], name: str) -> float:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(echoes.setdefault(name, loop.create_future()), 5)

    async def _paced(
        self, ws: ServerConnection, codec: Codec, rate: int, mark: str
    ) -> tuple[float, float]:
        """One phrase, paced like voicebot's player (3 frames ahead); returns (first, mark) times."""
        loop = asyncio.get_running_loop()
        frames = _frames(tone(self.script.phrase_s, rate, hz=1000.0), rate)
        origin = first = loop.time()
        stall = None if self.script.pause_at_s is None else round(self.script.pause_at_s / FRAME_S)
        for k, frame in enumerate(frames):
            if k == stall:
                await asyncio.sleep(self.script.pause_s)
                origin += self.script.pause_s
            await asyncio.sleep(max(0.0, origin + (k - 3) * FRAME_S - loop.time()))
            await ws.send(encode(frame, codec))
        await asyncio.sleep(max(0.0, origin + len(frames) * FRAME_S - loop.time()))
        await ws.send(json.dumps({"event": "mark", "name": mark}))
        return first, loop.time()

    async def _burst_and_clear(
        self,
        ws: ServerConnection,
        codec: Codec,
        rate: int,
        echoes: dict[str, asyncio.Future[float]],
    ) -> None:
        """1 s sent at once + mark (echo must wait for the playout); then 2 s cut after 0.5 s."""
        loop = asyncio.get_running_loop()
        for frame in _frames(tone(1.0, rate, hz=1000.0), rate):
            await ws.send(encode(frame, codec))
        await ws.send(json.dumps({"event": "mark", "name": "m-a"}))
        sent = loop.time()
        self.seen.echo_delays["m-a"] = await self._echo(echoes, "m-a") - sent
        for frame in _frames(tone(2.0, rate, hz=1000.0), rate):
            await ws.send(encode(frame, codec))
        await ws.send(json.dumps({"event": "mark", "name": "m-b"}))
        await asyncio.sleep(0.5)
        await ws.send(json.dumps({"event": "clear"}))
        await asyncio.sleep(0.3)


def _frames(pcm: bytes, rate: int) -> list[bytes]:
    size = round(rate * FRAME_S) * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@pytest.fixture
def bot() -> Iterator[ScriptedBot]:
    with ScriptedBot(Script()) as running:
        yield running


def call(bot: ScriptedBot, **kwargs: Any) -> CallReport:
    """Run one simulated call against the scripted bot; waits for the bot to finish too."""
    params: dict[str, Any] = {"codec": "alaw", "max_seconds": 10}
    params.update(kwargs)
    audio = params.pop("audio", caller_recording())
    token = params.pop("token", TOKEN)
    report = asyncio.run(simulate_call(bot.url, token, audio, INPUT_RATE, **params))
    assert bot.seen.done.wait(5), "the scripted bot did not finish the call"
    return report


# --- tests ------------------------------------------------------------------------------------


def test_find_utterances_joins_short_pauses_and_splits_long_ones() -> None:
    rate = 8000
    short_pause = silence(0.2, rate) + tone(0.5, rate) + silence(0.3, rate) + tone(0.5, rate)
    assert find_utterances(short_pause + silence(0.5, rate), rate) == (Utterance(0.2, 1.5),)
    long_pause = tone(0.4, rate) + silence(0.8, rate) + tone(0.4, rate) + silence(0.1, rate)
    assert find_utterances(long_pause, rate) == (Utterance(0.0, 0.4), Utterance(1.2, 1.6))
    assert find_utterances(silence(1.0, rate), rate) == ()
    click = tone(0.04, rate)  # too short to be speech
    assert find_utterances(silence(0.5, rate) + click + silence(0.5, rate), rate) == ()


@pytest.mark.parametrize(("codec", "rate"), [("alaw", 8000), ("pcm16", 16000)])
def test_call_reports_what_the_bot_heard_said_and_how_fast(
    bot: ScriptedBot, codec: str, rate: int
) -> None:
    report = call(bot, codec=codec, caller="+79161234567", call_id="t-1")
    seen = bot.seen

    assert seen.start["call_id"] == "t-1"
    assert (seen.start["codec"], seen.start["sample_rate"]) == (codec, rate)
    assert seen.start["caller"] == "+79161234567"
    # The caller's tone burst arrived where it is in the recording (encoded, resampled, framed).
    heard = loud_frames(bytes(seen.caller_pcm), rate)
    assert abs(heard[0] * FRAME_S - SPEECH[0]) <= 0.04
    assert abs((heard[-1] + 1) * FRAME_S - SPEECH[1]) <= 0.04

    assert report.heard == ("проверка связи",)
    assert report.said == ("Слышу вас хорошо",)
    assert (report.ended_by, report.end_reason, report.close_code) == (
        "hangup",
        "caller_finished",
        1000,
    )
    assert seen.controls[-1] == {"event": "stop", "reason": "hangup"}
    assert report.duration < 3.9  # the recording is 4 s: the call ended on the bot's hang-up

    # The mark came back once the phrase had been played, not when it arrived.
    assert report.marks_echoed == ("m1",)
    assert {"event": "mark", "name": "m1"} in seen.controls
    assert seen.first_frame_to_echo["m1"] >= 0.98
    assert seen.echo_delays["m1"] < 0.2

    # Latency counts from the end of the caller's speech (1.5 s), not from the recording's end:
    # the bot answers once it has 2.5 s of audio, so about 1.0 s.
    (latency,) = report.latencies
    assert latency.utterance == Utterance(*SPEECH)
    assert abs(latency.ended_at - SPEECH[1]) <= 0.1
    assert latency.seconds is not None and 0.9 <= latency.seconds <= 1.3
    assert report.answer_latencies == (latency.seconds,)

    # The bot's audio sits on the call timeline: silence, then its 1 s phrase, to the end.
    assert report.sample_rate == rate
    assert len(report.bot_audio) == pytest.approx(report.duration * rate * 2, abs=rate * 0.05)
    loud = loud_frames(report.bot_audio, rate)
    assert 48 <= len(loud) <= 51
    assert latency.answered_at is not None
    assert abs(loud[0] * FRAME_S - latency.answered_at) <= 0.04
    assert report.underruns == 0
    kinds = [event.kind for event in report.events]
    assert kinds.index("say") < kinds.index("audio") < kinds.index("mark") < kinds.index("hangup")


def test_a_stall_in_the_middle_of_a_phrase_is_an_underrun() -> None:
    with ScriptedBot(Script(pause_at_s=0.5, pause_s=0.3)) as stalling:
        report = call(stalling)
    assert report.underruns >= 1
    assert 0.15 <= report.underrun_s <= 0.35  # 300 ms stall minus the 60 ms prebuffer
    gaps = [int(e.fields["gap_ms"]) for e in report.events if e.kind == "underrun"]
    assert max(gaps) >= 150
    assert report.marks_echoed == ("m1",)
    # The stall delays the playout: the phrase's audio is still all there, just later (the
    # resumed audio no longer lines up with 20 ms analysis frames: up to 2 more partial frames).
    assert 48 <= len(loud_frames(report.bot_audio, report.sample_rate)) <= 53


def test_clear_drops_the_buffer_and_its_mark_and_transfer_ends_the_call() -> None:
    with ScriptedBot(Script(burst_and_clear=True, end="transfer")) as bursting:
        report = call(bursting)
        seen = bursting.seen
    # Audio sent at once is buffered and played in real time: its mark is echoed after ~1 s.
    assert 0.9 <= seen.echo_delays["m-a"] <= 1.2
    assert report.marks_echoed == ("m-a",)  # m-b was cleared with the audio before it
    assert [e for e in report.events if e.kind == "clear"]
    assert report.underruns == 0
    # 1 s of the first phrase and about 0.5 s of the second one were played.
    played = len(loud_frames(report.bot_audio, report.sample_rate)) * FRAME_S
    assert 1.4 <= played <= 1.65
    assert report.ended_by == "transfer"
    assert report.transfer_target == "billing"
    assert report.transfer_context == {
        "reason": "caller_asked",
        "summary": "Абонент: проверка",
        "priority": "1",
    }
    assert report.end_reason == "caller_asked"
    assert seen.controls[-1] == {"event": "stop", "reason": "transfer"}


def test_the_pbx_hangs_up_after_max_seconds() -> None:
    with ScriptedBot(Script(respond_after_s=99, end="none")) as silent:
        started = time.monotonic()
        report = call(silent, max_seconds=2)
        elapsed = time.monotonic() - started
        seen = silent.seen
    assert report.ended_by == "timeout"
    assert seen.controls[-1] == {"event": "stop", "reason": "hangup"}
    assert 1.9 <= report.duration <= 2.5 and elapsed < 4
    assert report.said == () and report.latencies[0].answered_at is None
    # Real-time pacing: 2 s of call carried about 2 s of caller audio.
    assert len(seen.caller_pcm) / 2 / 8000 == pytest.approx(2.0, abs=0.1)


def test_a_bad_token_is_a_clear_refusal(bot: ScriptedBot) -> None:
    with pytest.raises(CallRefusedError, match="токен") as caught:
        call(bot, token="wrong")
    assert caught.value.close_code == 4401
    assert bot.seen.refused


def test_nobody_listening_is_a_clear_refusal() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CallRefusedError, match="нет подключения"):
        asyncio.run(simulate_call(f"ws://127.0.0.1:{port}/ws/call", TOKEN, b"", 8000))


# --- the CLI --------------------------------------------------------------------------------


def write_wav(path: Path, pcm: bytes, rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path


def test_cli_logs_the_call_and_saves_the_bots_audio(bot: ScriptedBot, tmp_path: Path) -> None:
    recording = write_wav(tmp_path / "caller.wav", caller_recording(), INPUT_RATE)
    saved = tmp_path / "bot.wav"
    result = CliRunner().invoke(
        call_command,
        [str(recording), "--url", bot.url, "--save", str(saved)],
        env={"VOICEBOT_BRIDGE_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.output
    assert "бот услышал: «проверка связи»" in result.stdout
    assert "бот сказал: «Слышу вас хорошо» [answer]" in result.stdout
    assert "бот завершил звонок: caller_finished" in result.stdout
    found = re.search(r"фраза 1 \(0\.50–1\.50 с записи\): (\d+\.\d+) с", result.stdout)
    assert found is not None, result.stdout
    assert 0.9 <= float(found.group(1)) <= 1.3
    with wave.open(str(saved), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        seconds = wav.getnframes() / 8000
        pcm = wav.readframes(wav.getnframes())
    assert 3.0 <= seconds <= 3.9
    assert 48 <= len(loud_frames(pcm, 8000)) <= 51


def test_cli_bad_token_is_one_line_and_exit_code_2(bot: ScriptedBot, tmp_path: Path) -> None:
    recording = write_wav(tmp_path / "caller.wav", caller_recording(2.0), INPUT_RATE)
    result = CliRunner().invoke(
        call_command, [str(recording), "--url", bot.url, "--token", "wrong"]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "токен" in lines[0] and "4401" in lines[0]


def test_cli_refuses_audio_it_cannot_send(tmp_path: Path) -> None:
    stereo = write_wav(tmp_path / "stereo.wav", silence(0.5, 8000) * 2, 8000, channels=2)
    result = CliRunner().invoke(call_command, [str(stereo), "--token", TOKEN])
    assert result.exit_code == 2
    assert "моно PCM 16 бит" in result.stderr
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("hello")
    result = CliRunner().invoke(call_command, [str(not_wav), "--token", TOKEN])
    assert result.exit_code == 2
    assert "не WAV" in result.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{probe.getsockname()[1]}/ws/call"
    mono = write_wav(tmp_path / "mono.wav", silence(0.5, 8000), 8000)
    result = CliRunner().invoke(call_command, [str(mono), "--url", url, "--token", TOKEN])
    assert result.exit_code == 2
    assert "нет подключения" in result.stderr
