"""Hot reload of the knowledge base in a running bridge, without dropping calls.

Each call keeps the `CallEngines` it started with (the runner takes `runtime.engines` once), so
swapping `runtime.engines` for engines built on a new knowledge base changes only calls that
start afterwards. The new engines are built off the event loop, reusing everything that does not
depend on the knowledge base (recognisers, VAD, voice, stores); answers of new or changed entries
are synthesised into the phrase cache in the background after the swap (until then a new call
synthesises such an answer when it first says it).

`KbPublicationPoller` lets every bridge process pick up a publication from the database
(`KbVersionStore.published()`), checked every few seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from voicebot.call import CallEngines
from voicebot.dialogue import DialoguePolicy
from voicebot.errors import VoicebotError
from voicebot.hold_line import HandoffDesk
from voicebot.kb_edit import content_hash, draft_from_files
from voicebot.knowledge import KnowledgeBase
from voicebot.matcher import Matcher
from voicebot.store.kb_versions import KbVersion
from voicebot.tts import SpeechOutput

log = logging.getLogger("voicebot.bridge")

EngineRebuild = Callable[[CallEngines, KnowledgeBase], CallEngines]
PREPARE_RATES = (8000, 16000)


class ReloadError(VoicebotError):
    """The knowledge base could not be reloaded (the running one stays)."""

    code = "kb_reload_failed"


class EnginesHolder(Protocol):
    """What holds the engines new calls take (telephony_bridge.app.Runtime)."""

    engines: CallEngines | None


class PublishedSource(Protocol):
    """Where the published version is read (voicebot.store.kb_versions.KbVersionStore)."""

    def published(self) -> KbVersion | None:
        """The version published last, or None."""
        ...


@dataclass(frozen=True)
class Reloaded:
    """One completed reload."""

    version: int | None
    content_hash: str
    entries: int
    seconds: float  # building the new engines


def rebuild_for(
    matcher_for: Callable[[KnowledgeBase], Matcher],
    *,
    desk_for: Callable[[KnowledgeBase], HandoffDesk] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> EngineRebuild:
    """Engines for a new knowledge base: a new matcher, policy (same limits) and, when
    `desk_for` is given and the engines have an operator desk, a new desk (its working hours and
    topics come from the knowledge base); everything else is the current engines'."""

    def rebuild(current: CallEngines, kb: KnowledgeBase) -> CallEngines:
        matcher = matcher_for(kb)
        old = current.policy
        handoff = current.handoff
        operators_working = old.operators_working
        if desk_for is not None and handoff is not None:
            handoff = desk_for(kb)
            hours = handoff.hours

            def operators_working(topic: str | None) -> bool:
                return hours.is_open(clock(), topic)

        policy = DialoguePolicy(
            kb,
            max_misses=old.max_misses,
            max_clarify_attempts=old.max_clarify_attempts,
            max_silences=old.max_silences,
            operators_working=operators_working,
        )
        return dataclasses.replace(current, matcher=matcher, policy=policy, handoff=handoff)

    return rebuild


def new_answers(old: KnowledgeBase, new: KnowledgeBase) -> list[str]:
    """Answers of `new` that `old` does not have (new or changed entries)."""
    known = {entry.answer for entry in old.entries}
    return list(dict.fromkeys(e.answer for e in new.entries if e.answer not in known))


def prepare_new_answers(
    old: KnowledgeBase, new: KnowledgeBase, engines: CallEngines, rates: Sequence[int]
) -> None:
    """Synthesise the new answers into the phrase cache (a no-op for other speech sources)."""
    if isinstance(engines.speech, SpeechOutput):
        texts = new_answers(old, new)
        report = engines.speech.prepare(texts, rates)
        log.info("speech for %d new answers ready: %s", len(texts), report)


class KbReloader:
    """Builds engines for a knowledge base and swaps them in for new calls."""

    def __init__(
        self,
        runtime: EnginesHolder,
        rebuild: EngineRebuild,
        *,
        prepare: Callable[[KnowledgeBase, KnowledgeBase, CallEngines], None] | None = None,
        running_hash: str = "",
    ) -> None:
        """`prepare(old_kb, new_kb, engines)` runs in a background thread after each swap
        (default: synthesise new answers); `running_hash` is the content hash of the knowledge
        base the current engines were built from (voicebot.kb_edit.content_hash), if known."""
        self.runtime = runtime
        self.rebuild = rebuild
        self.prepare = prepare or (
            lambda old, new, engines: prepare_new_answers(old, new, engines, PREPARE_RATES)
        )
        self.version: int | None = None
        self.content_hash = running_hash
        self._lock = threading.Lock()
        self.preparing: threading.Thread | None = None

    def reload(
        self, kb: KnowledgeBase, *, version: int | None = None, kb_hash: str = ""
    ) -> Reloaded:
        """Build engines for `kb` (blocking: call it off the event loop) and swap them in."""
        with self._lock:
            current = self.runtime.engines
            if current is None:
                raise ReloadError("движок ещё не загружен: перезагружать базу знаний нечего")
            started = time.perf_counter()
            try:
                engines = self.rebuild(current, kb)
            except Exception as exc:
                raise ReloadError(f"не удалось собрать базу знаний: {exc}") from exc
            # One attribute assignment: a call starting now takes either the old or the new.
            self.runtime.engines = engines
            self.version = version
            self.content_hash = kb_hash
            elapsed = time.perf_counter() - started
        log.info("knowledge base reloaded: version %s, %d entries", version, len(kb.entries))
        old_kb = current.policy.kb
        self.preparing = threading.Thread(
            target=self._prepare, args=(old_kb, kb, engines), name="voicebot-kb-speech", daemon=True
        )
        self.preparing.start()
        return Reloaded(version, kb_hash, len(kb.entries), round(elapsed, 3))

    def _prepare(self, old: KnowledgeBase, new: KnowledgeBase, engines: CallEngines) -> None:
        try:
            self.prepare(old, new, engines)
        except Exception:
            log.exception("preparing speech for the new knowledge base failed")

    async def reload_async(
        self, kb: KnowledgeBase, *, version: int | None = None, kb_hash: str = ""
    ) -> Reloaded:
        """`reload` in a worker thread."""
        return await asyncio.to_thread(self.reload, kb, version=version, kb_hash=kb_hash)


class KbPublicationPoller:
    """Reloads the bridge's knowledge base when a new version is published (any process)."""

    def __init__(
        self,
        source: PublishedSource,
        reloader: KbReloader,
        *,
        interval_s: float = 3.0,
        sleep: Callable[[float], asyncio.Future[None]] | None = None,
    ) -> None:
        """Check `source.published()` every `interval_s` seconds."""
        self.source = source
        self.reloader = reloader
        self.interval_s = interval_s
        self._sleep = sleep or asyncio.sleep
        self._seen: tuple[int, datetime | None] | None = None

    async def check(self) -> Reloaded | None:
        """Reload if a publication happened since the last check; None when nothing to do.

        A version that fails to load is logged and not retried until the next publication."""
        version = await asyncio.to_thread(self.source.published)
        if version is None:
            return None
        key = (version.id, version.published_at)
        if key == self._seen:
            return None
        self._seen = key
        if version.content_hash == self.reloader.content_hash:
            self.reloader.version = version.id
            return None
        try:
            kb = draft_from_files(version.files).knowledge_base()
            return await self.reloader.reload_async(
                kb, version=version.id, kb_hash=content_hash(version.files)
            )
        except VoicebotError as exc:
            log.error("published knowledge base version %s not loaded: %s", version.id, exc)
            return None

    async def run(self) -> None:
        """Check forever (cancel the task to stop)."""
        while True:
            try:
                await self.check()
            except Exception:  # the database may be briefly away: keep the running KB
                log.exception("checking for a published knowledge base failed")
            await self._sleep(self.interval_s)
