"""A harness that runs a call session with fake engines; the caller's side is a script."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import cast

from call_fakes import (
    RATE,
    LevelDetector,
    MemoryRecorder,
    ScriptedRecognizers,
    StreamPacer,
    ToneSpeech,
    fixed_clock,
    frames,
    silence,
)

from voicebot.call import CallEngines, CallRecorder, CallResult, CallSession, CallSettings
from voicebot.dialogue import DialoguePolicy
from voicebot.events import AudioIn, BotSaid, CallStarted, InboundEvent, OutboundEvent
from voicebot.hold_line import HandoffDesk
from voicebot.knowledge import KnowledgeBase
from voicebot.matcher import Matcher

STARTED = CallStarted("call-1", "+79161234567", "88001234567", RATE, "alaw")


class Harness:
    """Runs a session; the caller's side is a script of inbound events, paced by the bot."""

    def __init__(
        self,
        kb: KnowledgeBase,
        matcher: Matcher,
        script: Sequence[str],
        *,
        fail_asr_on: str | None = None,
        fail_voice_on: str | None = None,
        settings: CallSettings | None = None,
        seconds_per_char: float = 0.01,
        handoff: HandoffDesk | None = None,
        policy: DialoguePolicy | None = None,
    ) -> None:
        self.sent: list[OutboundEvent] = []
        self.recorder = MemoryRecorder()
        self.pacer = StreamPacer()
        self.speech = ToneSpeech(fail_on=fail_voice_on, seconds_per_char=seconds_per_char)
        self.recognizers = ScriptedRecognizers(list(script), fail_on=fail_asr_on)
        engines = CallEngines(
            matcher=matcher,
            policy=policy or DialoguePolicy(kb),
            recognizers=self.recognizers,
            new_detector=LevelDetector,
            speech=self.speech,
            recorder=cast(CallRecorder, self.recorder),
            handoff=handoff,
        )
        self.session = CallSession(
            STARTED,
            engines,
            self._send,
            settings=settings or CallSettings(),
            clock=fixed_clock,
            pacer=self.pacer,
        )
        self.inbound: asyncio.Queue[InboundEvent] = asyncio.Queue()

    async def _send(self, event: OutboundEvent) -> None:
        self.sent.append(event)

    async def events(self) -> AsyncIterator[InboundEvent]:
        while True:
            yield await self.inbound.get()

    async def feed(self, pcm: bytes) -> None:
        """Caller audio in 20 ms frames, letting the session work between frames."""
        for frame in frames(pcm):
            self.pacer.advance(len(frame) / 2 / RATE)
            await self.inbound.put(AudioIn(frame))
            await asyncio.sleep(0.002)

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0.005)

    def said(self, kind: str | None = None) -> list[str]:
        return [e.text for e in self.sent if isinstance(e, BotSaid) and kind in (None, e.kind)]


async def run_call(harness: Harness, caller: AsyncIterator[None]) -> CallResult:
    """Run the caller's script, then keep the line open (silence, like a PBX) until the end."""
    task = asyncio.create_task(harness.session.run(harness.events()))
    async for _ in caller:
        pass
    for _ in range(1500):  # at most 30 s of stream time
        if task.done():
            break
        await harness.feed(silence(0.02))
    return await asyncio.wait_for(task, 10)
