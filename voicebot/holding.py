"""Holding the line: what the bot does after it decides to hand a call to a person.

A pure policy, like voicebot.dialogue: events in, actions out, no I/O. The call session feeds it
the queue's news (the estimated wait, "an operator took the call") and what the caller says or
presses, and carries out its actions (speak, transfer, make a callback task, end the call).

Open hours: the caller joins the queue and hears the estimated wait and that a callback is
possible (key 1 or «перезвоните»); the wait is announced again every `announce_every_s`; once
an operator takes the call, a short «соединяю» and the transfer to that operator. Outside the
hours: the hours, and the offer of a callback in working time; «да» or 1 makes the task, «нет»,
silence or anything else ends the call politely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from voicebot.knowledge import Prompts

HoldPhase = Literal["waiting", "after_hours_offer", "ended"]

CALLBACK_KEY = "1"
_CALLBACK_WORDS = re.compile(
    r"перезвон|обратн\w* звон|позвоните|наберите|call ?back", re.IGNORECASE
)
_YES = re.compile(r"^(да|давайте|ага|хорошо|конечно|можно|угу|да[, ]+\w+)\b", re.IGNORECASE)
_NO = re.compile(r"\b(нет|не надо|не нужно|не стоит|подожду)\b", re.IGNORECASE)


@dataclass(frozen=True)
class HoldSettings:
    """Timings of the holding line (seconds of call time)."""

    announce_every_s: float = 30.0
    poll_every_s: float = 1.0
    offer_answer_s: float = 10.0  # after hours: how long the offer waits for «да»
    callback_within_s: float = 2 * 3600.0  # the callback deadline after now or the next opening


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinedQueue:
    """The call is in the queue; `wait` is the Russian wait phrase."""

    now_s: float
    wait: str


@dataclass(frozen=True)
class QueueTick:
    """Time passed while waiting; `wait` is the current wait phrase."""

    now_s: float
    wait: str


@dataclass(frozen=True)
class OperatorTook:
    """An operator took the call; the PBX is to transfer it to `extension`."""

    extension: str


@dataclass(frozen=True)
class Closed:
    """Outside working hours; `hours` is the Russian sentence with the hours."""

    now_s: float
    hours: str


@dataclass(frozen=True)
class CallerReplied:
    """What the caller said (final text) while on hold."""

    now_s: float
    text: str


@dataclass(frozen=True)
class CallerPressed:
    """A key the caller pressed while on hold."""

    now_s: float
    digit: str


@dataclass(frozen=True)
class CallbackMade:
    """The callback task exists (False: it could not be made, e.g. an operator took the call)."""

    ok: bool


HoldEvent = (
    JoinedQueue | QueueTick | OperatorTook | Closed | CallerReplied | CallerPressed | CallbackMade
)

# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Announce:
    """Say this."""

    text: str


@dataclass(frozen=True)
class TransferTo:
    """Transfer the call to the operator's extension."""

    extension: str


@dataclass(frozen=True)
class MakeCallback:
    """Turn the call into a callback task (leaving the queue, if in it)."""


@dataclass(frozen=True)
class EndCall:
    """Hang up after what has been said; `outcome` names how the call ended."""

    outcome: str


HoldAction = Announce | TransferTo | MakeCallback | EndCall


@dataclass(frozen=True)
class HoldState:
    """Where the holding line is."""

    phase: HoldPhase = "waiting"
    since_s: float = 0.0
    announced_s: float = 0.0
    asked_callback: bool = False  # a MakeCallback is outstanding


def wants_callback(text: str) -> bool:
    """The caller asks to be called back («перезвоните мне», «лучше обратный звонок»)."""
    return bool(_CALLBACK_WORDS.search(text)) and not re.search(
        r"не\s+(надо\s+)?перезван", text, re.IGNORECASE
    )


def says_yes(text: str) -> bool:
    """A yes to an offer («да», «давайте», «да, пожалуйста»), not a no."""
    stripped = text.strip()
    return bool(_YES.search(stripped) or wants_callback(stripped)) and not _NO.search(stripped)


class HoldPolicy:
    """decide(state, event) -> (state, actions); the prompts come from bot.yaml."""

    def __init__(self, prompts: Prompts, settings: HoldSettings | None = None) -> None:
        """Prompts and timings."""
        self.prompts = prompts
        self.settings = settings or HoldSettings()

    def decide(self, state: HoldState, event: HoldEvent) -> tuple[HoldState, list[HoldAction]]:
        """The next state and what to do."""
        if state.phase == "ended":
            return state, []
        if isinstance(event, JoinedQueue):
            joined = replace(state, phase="waiting", since_s=event.now_s, announced_s=event.now_s)
            if state.asked_callback:  # the caller asked before we could say the wait
                return joined, []
            return joined, [Announce(self.prompts.queue_joined.format(wait=event.wait))]
        if isinstance(event, Closed):
            text = self.prompts.closed_offer.format(hours=event.hours)
            return HoldState("after_hours_offer", event.now_s, event.now_s), [Announce(text)]
        if isinstance(event, OperatorTook):
            if state.phase != "waiting":
                return state, []
            ended = replace(state, phase="ended")
            return ended, [Announce(self.prompts.operator_found), TransferTo(event.extension)]
        if isinstance(event, CallbackMade):
            return self._callback_made(state, event.ok)
        if isinstance(event, QueueTick):
            return self._tick(state, event)
        return self._caller(state, event)

    def _tick(self, state: HoldState, event: QueueTick) -> tuple[HoldState, list[HoldAction]]:
        if state.phase == "after_hours_offer":
            if event.now_s - state.since_s >= self.settings.offer_answer_s:
                return replace(state, phase="ended"), [
                    Announce(self.prompts.goodbye),
                    EndCall("after_hours"),
                ]
            return state, []
        if state.asked_callback:
            return state, []
        if event.now_s - state.announced_s >= self.settings.announce_every_s:
            text = self.prompts.queue_still_waiting.format(wait=event.wait)
            return replace(state, announced_s=event.now_s), [Announce(text)]
        return state, []

    def _caller(
        self, state: HoldState, event: CallerReplied | CallerPressed
    ) -> tuple[HoldState, list[HoldAction]]:
        if state.asked_callback:
            return state, []
        if isinstance(event, CallerPressed):
            wants = event.digit == CALLBACK_KEY
        elif state.phase == "after_hours_offer":
            wants = says_yes(event.text)
        else:
            wants = wants_callback(event.text)
        if wants:
            return replace(state, asked_callback=True), [MakeCallback()]
        declined = isinstance(event, CallerReplied) and bool(_NO.search(event.text))
        if state.phase == "after_hours_offer" and declined:
            return replace(state, phase="ended"), [
                Announce(self.prompts.goodbye),
                EndCall("after_hours"),
            ]
        return state, []

    def _callback_made(self, state: HoldState, ok: bool) -> tuple[HoldState, list[HoldAction]]:
        if not state.asked_callback:
            return state, []
        if ok:
            return replace(state, phase="ended", asked_callback=False), [
                Announce(self.prompts.callback_confirmed),
                EndCall("callback_requested"),
            ]
        # Too late: an operator has just taken the call; the transfer follows from the queue.
        return replace(state, asked_callback=False), []
