"""The call session: the one async orchestrator per call.

Caller audio goes through voice activity detection and streaming recognition (off the event
loop); the endpointer decides when the caller has finished; the conversation (matcher + policy)
decides what to do; the player speaks in paced frames; a barge-in stops it. Every call and turn is
recorded. Any failure becomes an apology and a transfer: the caller never hears dead air.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from voicebot.call_types import (
    CallEngines,
    CallRecorder,
    CallResult,
    CallSettings,
    TurnTiming,
)
from voicebot.conversation import Conversation, Understanding
from voicebot.dialogue import (
    Action,
    CallerSilent,
    EndConversation,
    Escalate,
    RecordRating,
    Say,
    TimeLimitReached,
)
from voicebot.events import (
    AudioIn,
    BotSaid,
    CallEnded,
    CallerHeard,
    CallStarted,
    DtmfIn,
    Hangup,
    InboundEvent,
    OutboundEvent,
    PlaybackMark,
    Transcript,
    TransferCall,
)
from voicebot.hold_line import HoldLine
from voicebot.playback import Pacer, Phrase, Player
from voicebot.recognition_lane import RecognitionLane
from voicebot.vad import (
    EarlyPause,
    Endpointer,
    PauseDetected,
    SpeechDetector,
    SpeechEnded,
    SpeechStarted,
    is_backchannel,
)

__all__ = [
    "CallEngines",
    "CallRecorder",
    "CallResult",
    "CallSession",
    "CallSettings",
    "TurnTiming",
]

log = logging.getLogger("voicebot.call")

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Guess:
    """The work of a pause begun early (at `EarlyPause`): the final transcript, then its match."""

    task: asyncio.Task[None] | None = None
    finalised: bool = False  # `transcript` is known (None: nothing was said)
    transcript: Transcript | None = None
    understood: Understanding | None = None
    error: Exception | None = None
    state: object = None  # the dialogue state the matcher saw
    resumed: bool = False  # the caller went on: the transcript heads the utterance
    asr_done: float = 0.0  # perf_counter() when the recogniser had finalised
    match_done: float = 0.0  # perf_counter() when the matcher had decided


Send = Callable[[OutboundEvent], Awaitable[None]]
Observer = Callable[[str, dict[str, float]], None]


class CallSession:
    """One call from `CallStarted` to hang-up or transfer."""

    def __init__(
        self,
        started: CallStarted,
        engines: CallEngines,
        send: Send,
        *,
        settings: CallSettings | None = None,
        clock: Clock = _utc_now,
        pacer: Pacer | None = None,
        observe: Observer | None = None,
    ) -> None:
        """A session for the call `started`; `send` delivers outbound events to the adapter."""
        self.started = started
        self.engines = engines
        self._send = send
        self.settings = settings or CallSettings()
        self.clock = clock
        self.observe = observe or (lambda _name, _values: None)
        self.rate = started.sample_rate
        self.conversation = Conversation(
            engines.matcher, engines.policy, call_id=started.call_id, clock=clock
        )
        self.player = Player(
            engines.speech,
            self._send_safely,
            self.rate,
            pacer=pacer,
            prebuffer_frames=self.settings.prebuffer_frames,
            on_error=self._speech_failed,
        )
        self.lane: RecognitionLane | None = None
        self.detector: SpeechDetector | None = None
        self.endpointer = Endpointer(self.settings.endpoint)
        self._stream_s = 0.0
        self._idle_since = 0.0
        self._partial = ""
        self._segments: list[Transcript] = []
        # A finalised utterance not clear enough to act on yet: the caller may go on.
        self._pending: tuple[Transcript, Understanding] | None = None
        self._guess: _Guess | None = None  # finalising and matching begun at an early pause
        self._timing = TurnTiming()  # the utterance being heard
        self._reply_timing: TurnTiming | None = None  # handed to the reply's first phrase
        self._utterance_over_bot = False
        self._after_speech: list[Action] = []
        self._finish: asyncio.Event = asyncio.Event()
        self._outcome = ""
        self._end_reason = ""
        self._time_limit_hit = False
        self._closed = False
        self._marks: dict[str, int] = {}
        self._finisher: asyncio.Task[None] | None = None
        self._overlap_s = 0.0
        self._hold: HoldLine | None = None  # waiting for an operator (or offered a callback)

    # --- the loop --------------------------------------------------------------------

    async def run(self, inbound: AsyncIterator[InboundEvent]) -> CallResult:
        """Process the call's events until it ends; always leaves the call recorded."""
        await self._record(self._start_record)
        try:
            await self._begin()
            await self._consume(inbound)
        except Exception as exc:  # the last line of defence: a person, never dead air
            log.exception("call %s failed", self.started.call_id)
            await self._emergency_transfer(exc)
        finally:
            if self._finisher is not None and not self._finisher.done():
                self._finisher.cancel()
            if self._guess is not None and self._guess.task is not None:
                self._guess.task.cancel()
            await self.player.close()
            await self._close_recognizer()
            if self._hold is not None:
                await self._hold.close()
            await self._record(self._end_record)
        return CallResult(
            self.started.call_id,
            self._outcome,
            self._end_reason,
            self.conversation.escalation,
            len(self.conversation.turns),
        )

    def end_now(self, reason: str) -> None:
        """The PBX side is gone (hang-up, disconnect, protocol error): stop at once, without
        working through audio still queued."""
        self._set_outcome_on_hangup(reason)
        self._finish.set()

    async def _consume(self, inbound: AsyncIterator[InboundEvent]) -> None:
        """Handle events until the call ends on either side (we may finish while the PBX waits)."""
        events = inbound.__aiter__()
        finished = asyncio.create_task(self._finish.wait())
        try:
            while not self._finish.is_set():
                next_event = asyncio.ensure_future(events.__anext__())
                done, _ = await asyncio.wait(
                    {next_event, finished}, return_when=asyncio.FIRST_COMPLETED
                )
                if next_event not in done:
                    next_event.cancel()
                    break
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    self._set_outcome_on_hangup("stream_closed")
                    break
                if isinstance(event, CallEnded):
                    self._set_outcome_on_hangup(event.reason)
                    break
                await self._on_event(event)
        finally:
            finished.cancel()

    async def _begin(self) -> None:
        factory = self.engines.recognizers
        recognizer, self.detector = await asyncio.to_thread(
            lambda: (factory.new_recognizer(self.rate), self.engines.new_detector(self.rate))
        )
        self.lane = RecognitionLane(recognizer, self._on_transcript, self._fail)
        await self._act(self.conversation.start())

    async def _on_event(self, event: InboundEvent) -> None:
        if isinstance(event, AudioIn):
            await self._on_audio(event.pcm)
        elif isinstance(event, DtmfIn):
            await self._on_dtmf(event.digit)
        elif isinstance(event, PlaybackMark):
            await self._on_mark(event.name)

    # --- audio -----------------------------------------------------------------------

    async def _on_audio(self, pcm: bytes) -> None:
        if self.lane is None or self.detector is None or self._finish.is_set():
            return
        self.lane.feed(pcm)
        try:
            windows = await asyncio.to_thread(self.detector.feed, pcm)
        except Exception as exc:
            await self._fail(exc)
            return
        for seconds, probability in windows:
            self._stream_s += seconds
            self._track_overlap(seconds, probability)
            if self.player.speaking and self._overlap_s >= self.settings.barge_in_speech_s:
                await self._barge_in()
            for endpoint_event in self.endpointer.update(seconds, probability):
                await self._on_endpoint(endpoint_event)
                if self._finish.is_set():
                    return
        await self._check_timers()

    async def _on_transcript(self, transcript: Transcript) -> None:
        if transcript.final:
            if transcript.text:
                self._segments.append(transcript)
            self._partial = ""
        else:
            self._partial = transcript.text
        if self.player.speaking:
            heard = " ".join([*(s.text for s in self._segments), self._partial]).strip()
            if heard and not is_backchannel(heard):
                await self._barge_in()

    def _track_overlap(self, seconds: float, probability: float) -> None:
        """How long the caller has been speaking without a break while the bot speaks."""
        if self.player.speaking and probability >= self.settings.endpoint.speech_threshold:
            self._overlap_s += seconds
        else:
            self._overlap_s = 0.0

    async def _on_endpoint(
        self, event: SpeechStarted | EarlyPause | PauseDetected | SpeechEnded
    ) -> None:
        if isinstance(event, SpeechStarted):
            self._utterance_over_bot = self.player.speaking
            self._pending_resumed()
            self._guess_resumed()
        elif isinstance(event, EarlyPause):
            self._speculate()
        elif isinstance(event, PauseDetected):
            await self._on_pause(event.silence_s)
        elif isinstance(event, SpeechEnded):
            await self._on_speech_ended(event)

    def _pending_resumed(self) -> None:
        """The caller goes on after a pause: what was heard so far is the start of the utterance."""
        if self._pending is not None:
            transcript, _understood = self._pending
            self._segments.insert(0, Transcript(transcript.text, True, transcript.confidence))
            self._pending = None

    def _speculate(self) -> None:
        """An early pause: finalise and match now, off the critical path; the pause uses it."""
        if self._guess is None and self.lane is not None:
            guess = _Guess()
            guess.task = asyncio.create_task(self._work_out(guess), name="voicebot-speculation")
            self._guess = guess

    def _guess_resumed(self) -> None:
        """The caller went on after an early pause: its transcript heads the utterance."""
        guess, self._guess = self._guess, None
        if guess is None:
            return
        guess.resumed = True
        if guess.finalised:
            self._resume_with(guess.transcript)
        # else `_work_out` puts it first once the recogniser has finalised it

    def _resume_with(self, transcript: Transcript | None) -> None:
        if transcript is not None:  # the n-best no longer fits the longer utterance
            self._segments.insert(0, Transcript(transcript.text, True, transcript.confidence))

    def _worth_matching(self, transcript: Transcript) -> bool:
        """Words that go to the matcher: not on hold, not «угу» said over the bot."""
        return self._hold is None and not (
            self._utterance_over_bot and is_backchannel(transcript.text)
        )

    async def _work_out(self, guess: _Guess) -> None:
        """Finalise what was said so far, then match it, into `guess`."""
        transcript = await self._finalise()
        guess.asr_done = time.perf_counter()
        guess.transcript, guess.finalised = transcript, True
        if guess.resumed:
            self._resume_with(transcript)
            return
        if transcript is not None and self._worth_matching(transcript):
            await self._match(guess, transcript)

    async def _match(self, guess: _Guess, transcript: Transcript) -> None:
        guess.state = self.conversation.state
        try:
            guess.understood = await asyncio.to_thread(
                self.conversation.understand, transcript.text, transcript.alternatives
            )
        except Exception as exc:
            guess.error = exc
        guess.match_done = time.perf_counter()

    async def _on_pause(self, silence_s: float) -> None:
        """A short pause: finalise what was said (unless begun at the early pause) and match it;
        act at once if it is clear enough."""
        paused_at = time.perf_counter()
        guess, self._guess = self._guess, None
        if guess is None:
            guess = _Guess()
            await self._work_out(guess)
        elif guess.task is not None:
            await guess.task
        # What the reply waited for after the pause (all of it without an early pause).
        self._timing.endpoint_wait = silence_s
        self._timing.asr_final = max(0.0, guess.asr_done - paused_at)
        transcript = guess.transcript
        if transcript is None:
            return
        if self._hold is not None:
            await self._heard_on_hold(transcript)
            return
        if not self._worth_matching(transcript):
            return  # «угу» said over the bot: feedback, not a turn
        if guess.understood is None or guess.state is not self.conversation.state:
            guess.understood, guess.error = None, None  # not matched yet, or for another state
            await self._match(guess, transcript)
        self._timing.matching = max(0.0, guess.match_done - max(paused_at, guess.asr_done))
        if guess.error is not None:
            await self._fail(guess.error)
            return
        understood = guess.understood
        assert understood is not None
        if self.conversation.is_final(transcript.text, understood):
            await self._commit(transcript, understood)
        else:
            self._pending = (transcript, understood)

    async def _on_speech_ended(self, event: SpeechEnded) -> None:
        """The definite end: act on what is pending (or on the last words)."""
        if self._pending is None:
            await self._on_pause(event.trailing_silence_s)
        if self._pending is not None:
            transcript, understood = self._pending
            self._pending = None
            # Finalised and matched at the pause: the reply waited for the end of speech only.
            self._timing = TurnTiming(endpoint_wait=event.trailing_silence_s)
            await self._commit(transcript, understood)

    async def _finalise(self) -> Transcript | None:
        """Ask the recogniser for the final text of the utterance so far, joined with segments."""
        if self.lane is None:
            return None
        last = await self.lane.finish()
        segments = [*self._segments, last] if last.text else list(self._segments)
        self._segments = []
        self._partial = ""
        if not segments:
            return None
        text = " ".join(s.text for s in segments).strip()
        alternatives = segments[-1].alternatives if len(segments) == 1 else ()
        confidence = min(s.confidence for s in segments)
        return Transcript(text, True, confidence, alternatives)

    async def _commit(self, transcript: Transcript, understood: Understanding) -> None:
        self._reply_timing, self._timing = self._timing, TurnTiming()
        await self._send_safely(CallerHeard(transcript.text, True))
        decision = understood.decision
        best = decision.candidates[0] if decision.candidates else None
        await self._record(
            lambda r: r.add_turn(
                self.started.call_id,
                "caller",
                transcript.text,
                started_at=self.clock(),
                kind="utterance",
                entry_id=decision.entry_id or (best.entry_id if best else None),
                decision=decision.kind,
                score=best.score if best else None,
                asr_confidence=transcript.confidence,
                alternatives=transcript.alternatives,
            )
        )
        self._idle_since = self._stream_s
        await self._act(self.conversation.commit(transcript.text, understood))

    async def _heard_on_hold(self, transcript: Transcript) -> None:
        """While waiting for an operator, words go to the holding line, not the FAQ."""
        assert self._hold is not None
        if self._utterance_over_bot and is_backchannel(transcript.text):
            return
        await self._send_safely(CallerHeard(transcript.text, True))
        await self._record(
            lambda r: r.add_turn(
                self.started.call_id,
                "caller",
                transcript.text,
                started_at=self.clock(),
                kind="utterance",
                asr_confidence=transcript.confidence,
                alternatives=transcript.alternatives,
            )
        )
        await self._hold.caller_said(self._stream_s, transcript.text)

    # --- keys, marks, timers -------------------------------------------------------------

    async def _on_dtmf(self, digit: str) -> None:
        if self.player.speaking:
            await self._barge_in()
        await self._record(
            lambda r: r.add_turn(
                self.started.call_id,
                "caller",
                f"[DTMF {digit}]",
                started_at=self.clock(),
                kind="dtmf",
            )
        )
        self._idle_since = self._stream_s
        if self._hold is not None:
            await self._hold.caller_pressed(self._stream_s, digit)
            return
        await self._act(self.conversation.press(digit))

    async def _on_mark(self, name: str) -> None:
        turn_id = self._marks.pop(name, None)
        if turn_id is not None:
            await self._record(lambda r: r.update_turn(turn_id, heard=True))

    async def _check_timers(self) -> None:
        if self._finish.is_set():
            return
        if self._hold is not None:  # the holding line keeps its own time
            await self._hold.tick(self._stream_s)
            return
        if self._stream_s >= self.settings.max_call_s and not self._time_limit_hit:
            self._time_limit_hit = True
            await self._interrupt_quietly()
            await self._act(self.conversation.notice(TimeLimitReached()))
            return
        busy = self.player.speaking or self.endpointer.in_speech or self._pending is not None
        if busy:
            self._idle_since = self._stream_s
        elif self._stream_s - self._idle_since >= self.settings.silence_timeout_s:
            self._idle_since = self._stream_s
            await self._act(self.conversation.notice(CallerSilent()))

    # --- acting ------------------------------------------------------------------------

    async def _act(self, actions: list[Action]) -> None:
        """Speak what the policy says; transfer or hang up once the speech before it is played."""
        for action in actions:
            if isinstance(action, Say):
                self._speak(action)
            elif isinstance(action, RecordRating):
                await self._record(partial(_rate, call_id=self.started.call_id, value=action.value))
            else:
                self._after_speech.append(action)
        if self._after_speech:
            self._schedule_finish()

    def _schedule_finish(self) -> None:
        """Once the queued speech is played, carry out the transfer or hang-up."""
        if self._finisher is None or self._finisher.done():
            self._finisher = asyncio.create_task(
                self._finish_after_speech(), name="voicebot-finish"
            )

    def _speak(self, say: Say) -> None:
        timing, self._reply_timing = self._reply_timing, None
        ready_at = self.player.pacer.now()
        phrase = Phrase(say.text, say.kind, say.entry_id)
        turn: dict[str, int] = {}

        async def on_start() -> None:
            await self._send_safely(BotSaid(say.text, say.kind, say.entry_id))
            turn_id = await self._record(
                lambda r: r.add_turn(
                    self.started.call_id,
                    "bot",
                    say.text,
                    started_at=self.clock(),
                    kind=say.kind,
                    entry_id=say.entry_id,
                )
            )
            if isinstance(turn_id, int):
                turn["id"] = turn_id
                self._marks[phrase.mark] = turn_id

        async def on_done(completed: bool) -> None:
            if timing is not None and phrase.first_audio_at is not None:
                timing.speech_start = phrase.first_audio_at - ready_at
                self.observe("answer", timing.as_dict())
            self._idle_since = self._stream_s
            turn_id = turn.get("id")
            if turn_id is not None:
                ended = self.clock()
                await self._record(
                    lambda r: r.update_turn(turn_id, ended_at=ended, interrupted=not completed)
                )
                if not completed:
                    await self._record(lambda r: r.update_turn(turn_id, heard=False))

        phrase.on_start = on_start
        phrase.on_done = on_done
        self.player.say(phrase)

    async def _finish_after_speech(self) -> None:
        await self.player.wait_idle()
        actions, self._after_speech = self._after_speech, []
        for action in actions:
            if isinstance(action, Escalate) and self._can_hold(action):
                await self._start_hold()
                return  # the holding line decides how the call ends
            if isinstance(action, Escalate):
                await self._transfer(action)
            elif isinstance(action, EndConversation):
                self._outcome = "no_input" if action.reason == "no_input" else "resolved_by_bot"
                self._end_reason = action.reason
                await self._send_safely(Hangup(action.reason))
        if actions:
            self._finish.set()

    def _can_hold(self, action: Escalate) -> bool:
        """Queue the call (rather than transfer at once) when there is a queue and the bot can
        still speak: an internal failure goes straight to a person."""
        return (
            self.engines.handoff is not None
            and self._hold is None
            and action.reason != "internal_error"
            and self.conversation.escalation is not None
        )

    async def _start_hold(self) -> None:
        desk, escalation = self.engines.handoff, self.conversation.escalation
        assert desk is not None and escalation is not None
        hold = HoldLine(
            desk,
            self.engines.policy.kb.config.prompts,
            self.started,
            escalation,
            _HoldHooks(self),
            self.clock,
            self.conversation.state.answered,
            self.observe,
        )
        self._end_reason = escalation.reason
        try:
            if not await asyncio.to_thread(desk.staffed):
                await self._transfer(Escalate(escalation.reason, escalation.topic))
                self._finish.set()
                return
            self._hold = hold
            await hold.start(self._stream_s)
        except Exception:  # the queue is down: a person at once, never dead air
            log.exception("call %s: the operator queue failed", self.started.call_id)
            self._hold = None
            with contextlib.suppress(Exception):
                await hold.close()  # do not leave an entry waiting for a call that went on
            await self._transfer(Escalate(escalation.reason, escalation.topic))
            self._finish.set()

    def _after_hold_speech(self, outcome: str, event: OutboundEvent) -> None:
        async def finish() -> None:
            await self.player.wait_idle()
            self._outcome = outcome
            self._end_reason = self._end_reason or outcome
            await self._send_safely(event)
            self._finish.set()

        self._finisher = asyncio.create_task(finish(), name="voicebot-finish-hold")

    async def _transfer(self, action: Escalate) -> None:
        escalation = self.conversation.escalation
        context = {"reason": action.reason, "topic": action.topic or ""}
        if escalation is not None:
            context |= {"summary": escalation.summary, "priority": str(escalation.priority)}
        self._outcome = "escalated"
        self._end_reason = action.reason
        await self._send_safely(TransferCall(action.topic or "operators", context))

    async def _barge_in(self) -> None:
        """The caller interrupts: stop speaking (a pending transfer or goodbye still happens)."""
        self._overlap_s = 0.0
        await self.player.interrupt()
        self.observe("barge_in", {})

    async def _interrupt_quietly(self) -> None:
        if self.player.speaking:
            await self.player.interrupt()

    # --- failures ----------------------------------------------------------------------

    async def _fail(self, exc: BaseException) -> None:
        log.warning("call %s: engine failure: %r", self.started.call_id, exc)
        self.observe("engine_error", {})
        if self.conversation.ended:
            return
        await self._interrupt_quietly()
        await self._act(self.conversation.fail(f"{type(exc).__name__}: {exc}"))

    async def _speech_failed(self, phrase: Phrase, exc: BaseException) -> None:
        """Speech output broke: say nothing more, hand the caller to a person at once."""
        log.warning("call %s: speech failed for %r: %r", self.started.call_id, phrase.text, exc)
        self.observe("engine_error", {})
        if not self.conversation.ended:
            self.conversation.fail(f"{type(exc).__name__}: {exc}")
        if not any(isinstance(a, Escalate) for a in self._after_speech):
            escalation_topic = self.conversation.state.last_topic
            self._after_speech.append(Escalate("internal_error", escalation_topic))
        await self.player.close()
        self._schedule_finish()

    async def _emergency_transfer(self, exc: BaseException) -> None:
        self._outcome = "escalated"
        self._end_reason = "internal_error"
        await self._send_safely(
            TransferCall("operators", {"reason": "internal_error", "detail": type(exc).__name__})
        )

    # --- outcome and records -------------------------------------------------------------

    def _set_outcome_on_hangup(self, reason: str) -> None:
        if self._outcome:
            return
        if self._hold is not None and self._hold.waiting:
            self._outcome = "abandoned"
        elif reason == "protocol_error":
            self._outcome = "protocol_error"
        elif self.conversation.state.answered:
            self._outcome = "resolved_by_bot"
        else:
            self._outcome = "caller_hung_up"
        self._end_reason = reason

    async def _send_safely(self, event: OutboundEvent) -> None:
        if self._closed:
            return
        try:
            await self._send(event)
        except Exception as exc:  # the PBX went away: stop talking to it
            log.info("call %s: send failed (%r); closing", self.started.call_id, exc)
            self._closed = True
            self._set_outcome_on_hangup("connection_lost")
            self._finish.set()

    async def _record(self, write: Callable[[CallRecorder], object]) -> object:
        """Persist without ever breaking the call: a store failure is logged, not raised."""
        recorder = self.engines.recorder
        if recorder is None:
            return None
        try:
            return await asyncio.to_thread(write, recorder)
        except Exception:
            log.exception("call %s: recording failed", self.started.call_id)
            return None

    def _start_record(self, recorder: CallRecorder) -> None:
        s = self.started
        recorder.start_call(
            s.call_id,
            caller=s.caller,
            called=s.called,
            codec=s.codec,
            sample_rate=s.sample_rate,
            started_at=self.clock(),
            metadata=dict(s.metadata),
        )

    def _end_record(self, recorder: CallRecorder) -> None:
        recorder.end_call(
            self.started.call_id,
            ended_at=self.clock(),
            outcome=self._outcome or "failed",
            end_reason=self._end_reason or "unknown",
            escalation=self.conversation.escalation,
        )

    async def _close_recognizer(self) -> None:
        lane, self.lane = self.lane, None
        if lane is not None:
            await lane.close()
        self.detector = None


def _rate(recorder: CallRecorder, *, call_id: str, value: int) -> None:
    recorder.set_rating(call_id, value)


class _HoldHooks:
    """The holding line's view of its call session."""

    def __init__(self, session: CallSession) -> None:
        self.session = session

    def say(self, text: str) -> None:
        """Queue a prompt."""
        self.session._speak(Say(text, "prompt"))

    def transfer_after_speech(self, target: str, context: Mapping[str, str]) -> None:
        """The operator took the call."""
        self.session._after_hold_speech("escalated", TransferCall(target, dict(context)))

    def hang_up_after_speech(self, outcome: str) -> None:
        """A callback was made, or the hours are over."""
        self.session._after_hold_speech(outcome, Hangup(outcome))
