"""The call session's side of the operator queue: runs the holding policy (voicebot.holding)
against the real queue, off the event loop, and asks the session to speak, transfer or hang up.

`HandoffDesk` is what a bridge process shares between calls: the queue, the working hours, how
to describe a call for the operator (card and priority), and how to phrase the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from voicebot.events import CallStarted, Escalation
from voicebot.holding import (
    Announce,
    CallbackMade,
    CallerPressed,
    CallerReplied,
    Closed,
    EndCall,
    HoldAction,
    HoldEvent,
    HoldPolicy,
    HoldSettings,
    HoldState,
    JoinedQueue,
    MakeCallback,
    OperatorTook,
    QueueTick,
    TransferTo,
)
from voicebot.knowledge import Prompts
from voicebot.queue import CallQueue, QueueEntry, WaitInputs

log = logging.getLogger("voicebot.call")


class WorkingHours(Protocol):
    """When operators work (voicebot.schedule.Schedule implements it)."""

    def is_open(self, at: datetime, topic: str | None = None) -> bool:
        """Operators of `topic` work at `at`."""
        ...

    def next_open(self, at: datetime, topic: str | None = None) -> datetime | None:
        """The next moment they do (None: never, e.g. no hours configured at all)."""
        ...

    def hours_phrase(self, topic: str | None = None) -> str:
        """The hours as a Russian sentence the bot can say."""
        ...


@dataclass(frozen=True)
class CallCard:
    """What the operator sees of a call, and where it stands in the queue."""

    card: Mapping[str, object]
    summary: str
    priority: int
    priority_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class HandoffDesk:
    """Everything a call needs to be handed to people (shared by the calls of a process)."""

    queue: CallQueue
    hours: WorkingHours
    # (escalation, the call, entries the bot answered) -> the card; may read history: off-loop
    describe: Callable[[Escalation, CallStarted, Sequence[str]], CallCard]
    wait_phrase: Callable[[WaitInputs], str]
    settings: HoldSettings = field(default_factory=HoldSettings)
    # Are there operators at all (console users)? If not, calls go straight to the PBX's transfer.
    staffed: Callable[[], bool] = lambda: True


class HoldHooks(Protocol):
    """What the holding line asks of the call session."""

    def say(self, text: str) -> None:
        """Speak (queued after whatever is being said)."""
        ...

    def transfer_after_speech(self, target: str, context: Mapping[str, str]) -> None:
        """Transfer the call once the queued speech has played; the call then ends."""
        ...

    def hang_up_after_speech(self, outcome: str) -> None:
        """Hang up once the queued speech has played, with this outcome."""
        ...


class HoldLine:
    """One call's stay with the operator queue, from the escalation to its end."""

    def __init__(
        self,
        desk: HandoffDesk,
        prompts: Prompts,
        started: CallStarted,
        escalation: Escalation,
        hooks: HoldHooks,
        clock: Callable[[], datetime],
        answered: Sequence[str] = (),
        observe: Callable[[str, dict[str, float]], None] = lambda _name, _values: None,
    ) -> None:
        """Nothing happens until `start`; `answered` are the entries the bot answered."""
        self.answered = tuple(answered)
        self.observe = observe
        self.desk = desk
        self.policy = HoldPolicy(prompts, desk.settings)
        self.started = started
        self.escalation = escalation
        self.hooks = hooks
        self.clock = clock
        self.state = HoldState()
        self.entry: QueueEntry | None = None
        self.card: CallCard | None = None
        self._last_poll_s = 0.0
        self._poll: asyncio.Task[None] | None = None
        # One event at a time: the queue poll, the caller and the start must not interleave
        # inside the policy (a callback asked for while joining must not be forgotten).
        self._turn = asyncio.Lock()

    @property
    def waiting(self) -> bool:
        """In the queue and not yet taken, moved to a callback or ended."""
        return self.entry is not None and self.state.phase == "waiting"

    async def start(self, now_s: float) -> None:
        """Join the queue (open hours) or offer a callback (closed)."""
        topic = self.escalation.topic
        now = self.clock()
        self.card = await asyncio.to_thread(
            self.desk.describe, self.escalation, self.started, self.answered
        )
        self._last_poll_s = now_s
        if not self.desk.hours.is_open(now, topic):
            await self._apply(Closed(now_s, self.desk.hours.hours_phrase(topic)))
            return
        card = self.card
        self.entry = await asyncio.to_thread(
            lambda: self.desk.queue.enqueue(
                call_id=self.started.call_id,
                caller=self.started.caller,
                topic=topic,
                priority=card.priority,
                priority_reasons=card.priority_reasons,
                reason=self.escalation.reason,
                card=card.card,
                now=now,
            )
        )
        await self._apply(JoinedQueue(now_s, await self._wait_phrase()))

    async def tick(self, now_s: float) -> None:
        """Call time passed: poll the queue every `poll_every_s` (in the background)."""
        if self.state.phase == "ended":
            return
        if now_s - self._last_poll_s < self.desk.settings.poll_every_s:
            return
        if self._poll is not None and not self._poll.done():
            return
        self._last_poll_s = now_s
        self._poll = asyncio.create_task(self._poll_queue(now_s), name="voicebot-hold-poll")

    async def caller_said(self, now_s: float, text: str) -> None:
        """A final utterance while holding."""
        await self._apply(CallerReplied(now_s, text))

    async def caller_pressed(self, now_s: float, digit: str) -> None:
        """A key while holding."""
        await self._apply(CallerPressed(now_s, digit))

    async def close(self) -> str | None:
        """The call is ending: leave the queue if still waiting; "abandoned" if so."""
        if self._poll is not None and not self._poll.done():
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        if not self.waiting or self.entry is None:
            return None
        entry_id, now = self.entry.id, self.clock()
        try:
            left = await asyncio.to_thread(self.desk.queue.abandon, entry_id, now)
        except Exception:
            log.exception("call %s: leaving the queue failed", self.started.call_id)
            return None
        self.state = HoldState("ended")
        if left:
            self._waited("abandoned")
        return "abandoned" if left else None

    async def _poll_queue(self, now_s: float) -> None:
        if self.state.phase == "after_hours_offer":
            await self._apply(QueueTick(now_s, ""))
            return
        if self.entry is None:
            return
        try:
            status = await asyncio.to_thread(self.desk.queue.status, self.entry.id, self.clock())
        except Exception:
            log.exception("call %s: reading the queue failed", self.started.call_id)
            return
        if status.state == "taken" and status.extension is not None:
            await self._apply(OperatorTook(status.extension))
        elif status.state == "waiting":
            await self._apply(QueueTick(now_s, self.desk.wait_phrase(status.wait)))

    async def _wait_phrase(self) -> str:
        if self.entry is None:
            return ""
        status = await asyncio.to_thread(self.desk.queue.status, self.entry.id, self.clock())
        return self.desk.wait_phrase(status.wait)

    async def _apply(self, event: HoldEvent) -> None:
        async with self._turn:
            await self._apply_in_turn(event)

    async def _apply_in_turn(self, event: HoldEvent) -> None:
        self.state, actions = self.policy.decide(self.state, event)
        for action in actions:
            await self._carry_out(action)

    def _waited(self, result: str) -> None:
        """Report how long the caller waited in the queue (metrics)."""
        if self.entry is not None:
            seconds = (self.clock() - self.entry.enqueued_at).total_seconds()
            self.observe(f"queue_wait_{result}", {"seconds": max(0.0, seconds)})

    async def _carry_out(self, action: HoldAction) -> None:
        if isinstance(action, Announce):
            self.hooks.say(action.text)
        elif isinstance(action, TransferTo):
            self._waited("taken")
            self.hooks.transfer_after_speech(action.extension, self._context())
        elif isinstance(action, EndCall):
            self.hooks.hang_up_after_speech(action.outcome)
        elif isinstance(action, MakeCallback):
            await self._apply_in_turn(CallbackMade(await self._make_callback()))

    async def _make_callback(self) -> bool:
        now = self.clock()
        topic = self.escalation.topic
        opening = (
            now if self.desk.hours.is_open(now, topic) else self.desk.hours.next_open(now, topic)
        )
        deadline = (opening or now) + timedelta(seconds=self.desk.settings.callback_within_s)
        summary = self.card.summary if self.card is not None else self.escalation.summary
        try:
            if self.entry is not None:
                entry_id = self.entry.id
                made = await asyncio.to_thread(self.desk.queue.to_callback, entry_id, deadline, now)
                if made is not None:
                    self._waited("callback")
                return made is not None
            await asyncio.to_thread(
                lambda: self.desk.queue.request_callback(
                    call_id=self.started.call_id,
                    caller=self.started.caller,
                    topic=topic,
                    summary=summary,
                    deadline=deadline,
                    now=now,
                )
            )
        except Exception:
            log.exception("call %s: making the callback failed", self.started.call_id)
            return False
        return True

    def _context(self) -> dict[str, str]:
        context = {
            "reason": self.escalation.reason,
            "topic": self.escalation.topic,
            "priority": str(self.card.priority if self.card else self.escalation.priority),
            "summary": self.card.summary if self.card else self.escalation.summary,
        }
        if self.entry is not None:
            context["queue_entry"] = str(self.entry.id)
        return context


def describe_plainly(
    escalation: Escalation, started: CallStarted, answered: Sequence[str] = ()
) -> CallCard:
    """A card from the escalation alone (no history, no priority rules)."""
    card: dict[str, object] = {
        "topic": escalation.topic,
        "reason": escalation.reason,
        "summary": escalation.summary,
        "caller": started.caller,
    }
    return CallCard(card, escalation.summary, escalation.priority)
