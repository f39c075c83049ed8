"""Hot reload: a publication reaches a running bridge; active calls keep their knowledge base.

The bridge runs in uvicorn on loopback with the fakes of tests/call_fakes.py, driven by the
generic-protocol PBX client in real time. The fake recogniser hears a phrase chosen by the level
of the caller's "speech" (so each call can say what the test wants, whatever order recognisers
are made in).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bridge_server import serving
from call_fakes import LevelDetector, MemoryRecorder, ToneSpeech, silence, speech
from conftest import SMALL_FAQ, WriteKb
from pbx_clients.base import Endpoints
from pbx_clients.generic import GenericClient

from telephony_bridge.app import BridgeConfig, create_app
from telephony_bridge.kb_reload import (
    KbPublicationPoller,
    KbReloader,
    ReloadError,
    new_answers,
    rebuild_for,
)
from voicebot.call import CallEngines, CallSettings
from voicebot.dialogue import DialoguePolicy
from voicebot.embedding import HashingEmbedder
from voicebot.events import Transcript
from voicebot.kb_edit import KbDraft, create_entry, load_draft
from voicebot.knowledge import FaqEntry, KnowledgeBase
from voicebot.matcher import Matcher
from voicebot.store.kb_versions import KbVersionStore
from voicebot.text import IdentityLemmatizer

TOKEN = "reload-secret"
FRAME_S = 0.02
TV = FaqEntry(
    id="tv-connect",
    topic="tech",
    questions=("как подключить телевидение", "подключить тв", "хочу смотреть телевидение"),
    answer="Телевидение подключается в личном кабинете за пять минут.",
)
BALANCE_ANSWER = "Баланс можно узнать в личном кабинете."
# Speech levels the fake recogniser tells apart (A-law keeps them well apart).
PHRASES = {2000: "как узнать баланс", 9000: "как подключить телевидение"}


@dataclass
class LevelRecognizer:
    """Hears the phrase of the loudest level in the utterance."""

    loudest: int = 0

    def accept(self, pcm: bytes) -> Transcript | None:
        samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
        if len(samples) and samples.mean() > 500:
            self.loudest = max(self.loudest, int(samples.mean()))
        return None

    def finish(self) -> Transcript:
        if not self.loudest:
            return Transcript("", True)
        level = min(PHRASES, key=lambda known: abs(known - self.loudest))
        self.loudest = 0
        return Transcript(PHRASES[level], True, 0.9)

    def close(self) -> None:
        pass


@dataclass
class LevelRecognizers:
    made: list[LevelRecognizer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "levels"

    def new_recognizer(self, input_rate: int, phrases: Any = ()) -> LevelRecognizer:
        recognizer = LevelRecognizer()
        self.made.append(recognizer)
        return recognizer


class Line:
    """A PBX leg streaming caller audio in real time: silence unless the caller speaks."""

    def __init__(self, client: GenericClient) -> None:
        self.client = client
        self.pending = b""
        self.task: asyncio.Task[None] | None = None

    async def open(self, call_id: str) -> None:
        await self.client.start(call_id, "+79161234567", "88001234567")
        self.task = asyncio.create_task(self._stream())

    def say(self, level: int, seconds: float = 0.6) -> None:
        self.pending += speech(seconds, level)

    async def _stream(self) -> None:
        size = round(8000 * FRAME_S) * 2
        began = time.monotonic()
        index = 0
        while True:
            frame, self.pending = self.pending[:size], self.pending[size:]
            await self.client.send_audio(frame.ljust(size, b"\0") if frame else silence(FRAME_S))
            index += 1
            delay = began + index * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.hang_up()
        await self.client.close()


def bot_lines(recorder: MemoryRecorder, call_id: str) -> list[str]:
    with recorder.lock:
        return [
            str(t["text"]) for t in recorder.turns if t["call_id"] == call_id and t["role"] == "bot"
        ]


def caller_turns(recorder: MemoryRecorder, call_id: str) -> list[dict[str, object]]:
    with recorder.lock:
        return [t for t in recorder.turns if t["call_id"] == call_id and t["role"] == "caller"]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """The test waits (its own polling, not the code under test's)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def matcher_for(cache: Path) -> Callable[[KnowledgeBase], Matcher]:
    return lambda kb: Matcher(kb, HashingEmbedder(), IdentityLemmatizer(), cache_dir=cache)


@pytest.fixture
def drafts(write_kb: WriteKb) -> tuple[KbDraft, KbDraft]:
    faq = dict(SMALL_FAQ)
    faq["billing.yaml"] = [{**SMALL_FAQ["billing.yaml"][0], "answer": BALANCE_ANSWER}]
    old = load_draft(write_kb(faq))
    return old, create_entry(old, TV, author="Иванова")


def engines_on(kb: KnowledgeBase, cache: Path, recorder: MemoryRecorder) -> CallEngines:
    return CallEngines(
        matcher=matcher_for(cache)(kb),
        policy=DialoguePolicy(kb),
        recognizers=LevelRecognizers(),
        new_detector=LevelDetector,
        speech=ToneSpeech(seconds_per_char=0.005),
        recorder=recorder,
    )


def test_a_reload_during_a_call_keeps_it_on_the_old_kb_and_new_calls_get_the_new(
    drafts: tuple[KbDraft, KbDraft], tmp_path: Path
) -> None:
    old, new = drafts
    recorder = MemoryRecorder()
    engines = engines_on(old.knowledge_base(), tmp_path / "cache", recorder)
    app = create_app(BridgeConfig(token=TOKEN, call=CallSettings(silence_timeout_s=30)), engines)
    runtime = app.state.runtime
    store = KbVersionStore(f"sqlite:///{tmp_path / 'kb.db'}")
    v1 = store.save(old.files, "импорт", "", None)
    store.publish(v1.id, "импорт")
    reloader = KbReloader(
        runtime, rebuild_for(matcher_for(tmp_path / "cache")), running_hash=old.content_hash
    )
    poller = KbPublicationPoller(store, reloader)

    async def scenario(endpoints: Endpoints) -> None:
        assert await poller.check() is None  # the published version is the one running
        assert runtime.engines is engines

        first = Line(GenericClient(endpoints))
        await first.open("call-old")
        first.say(2000)  # «как узнать баланс»
        await until(lambda: BALANCE_ANSWER in bot_lines(recorder, "call-old"))

        v2 = store.save(new.files, "Иванова", "ТВ", v1.id)
        store.publish(v2.id, "Иванова")
        reloaded = await poller.check()
        assert reloaded is not None and reloaded.version == v2.id and reloaded.entries == 4
        assert runtime.engines is not engines
        assert runtime.engines.recognizers is engines.recognizers  # reused, not rebuilt
        assert runtime.engines.speech is engines.speech
        assert await poller.check() is None  # nothing new

        # The active call still answers from the old knowledge base: TV is unknown there.
        first.say(9000)  # «как подключить телевидение»
        await until(lambda: len(caller_turns(recorder, "call-old")) == 2)
        await until(lambda: len(bot_lines(recorder, "call-old")) >= 4)
        tv_turn = caller_turns(recorder, "call-old")[1]
        assert tv_turn["text"] == "как подключить телевидение"
        assert tv_turn["decision"] != "answer"
        assert TV.answer not in bot_lines(recorder, "call-old")

        second = Line(GenericClient(endpoints))
        await second.open("call-new")
        second.say(9000)
        await until(lambda: TV.answer in bot_lines(recorder, "call-new"))
        assert caller_turns(recorder, "call-new")[0]["entry_id"] == "tv-connect"
        await second.close()
        await first.close()

    with serving(app) as port:
        endpoints = Endpoints(
            http=f"http://127.0.0.1:{port}",
            ws=f"ws://127.0.0.1:{port}",
            tcp_host="127.0.0.1",
            tcp_port=0,
            token=TOKEN,
        )
        asyncio.run(asyncio.wait_for(scenario(endpoints), 60))
    store.close()


def test_the_rebuild_reuses_engines_and_limits(
    drafts: tuple[KbDraft, KbDraft], tmp_path: Path
) -> None:
    old, new = drafts
    engines = engines_on(old.knowledge_base(), tmp_path, MemoryRecorder())
    engines = replace(engines, policy=DialoguePolicy(old.knowledge_base(), max_misses=5))
    rebuilt = rebuild_for(matcher_for(tmp_path))(engines, new.knowledge_base())
    assert rebuilt.matcher.kb.entries == new.entries
    assert rebuilt.policy.kb.entries == new.entries and rebuilt.policy.max_misses == 5
    assert rebuilt.new_detector is engines.new_detector and rebuilt.recorder is engines.recorder
    assert engines.matcher.kb.entries == old.entries  # the old engines are untouched


def test_new_answers_are_prepared_in_the_background(
    drafts: tuple[KbDraft, KbDraft], tmp_path: Path
) -> None:
    old, new = drafts
    assert new_answers(old.knowledge_base(), new.knowledge_base()) == [TV.answer]

    class Holder:
        engines: CallEngines | None = None

    holder = Holder()
    with pytest.raises(ReloadError, match="не загружен"):
        KbReloader(holder, rebuild_for(matcher_for(tmp_path))).reload(new.knowledge_base())
    holder.engines = engines_on(old.knowledge_base(), tmp_path, MemoryRecorder())
    prepared: list[list[str]] = []
    reloader = KbReloader(
        holder,
        rebuild_for(matcher_for(tmp_path)),
        prepare=lambda o, n, e: prepared.append(new_answers(o, n)),
    )
    done = reloader.reload(new.knowledge_base(), version=7, kb_hash="h")
    assert (done.version, reloader.version, reloader.content_hash) == (7, 7, "h")
    assert reloader.preparing is not None
    reloader.preparing.join(10)
    assert prepared == [[TV.answer]]


def test_a_broken_publication_keeps_the_running_kb(
    drafts: tuple[KbDraft, KbDraft], tmp_path: Path
) -> None:
    old, _new = drafts

    class Holder:
        engines: CallEngines | None = None

    holder = Holder()
    holder.engines = running = engines_on(old.knowledge_base(), tmp_path, MemoryRecorder())
    store = KbVersionStore(f"sqlite:///{tmp_path / 'kb.db'}")
    broken = store.save({**old.files, "faq/bad.yaml": "- id: Плохо\n"}, "a", "", None)
    store.publish(broken.id, "a", now=datetime.now(UTC) + timedelta(seconds=1))
    poller = KbPublicationPoller(store, KbReloader(holder, rebuild_for(matcher_for(tmp_path))))
    assert asyncio.run(poller.check()) is None
    assert holder.engines is running
    store.close()
