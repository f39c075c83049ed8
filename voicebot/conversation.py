"""A conversation over text: matcher + policy + transcript. The call session wraps the same loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from voicebot.dialogue import (
    Action,
    CallerSaid,
    ConversationStarted,
    DialoguePolicy,
    DialogueState,
    Escalate,
    InternalFailure,
    KeyPressed,
    PolicyEvent,
    Say,
    is_closing,
    wants_operator,
)
from voicebot.events import Candidate, Decision, Escalation, Turn
from voicebot.handoff import build_escalation
from voicebot.matcher import Matcher

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Understanding:
    """The matcher's view of an utterance: the decision, and the pick while clarifying."""

    decision: Decision
    choice: Candidate | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Conversation:
    """One caller's conversation: feeds utterances through the matcher and the policy."""

    def __init__(
        self,
        matcher: Matcher,
        policy: DialoguePolicy,
        call_id: str = "chat",
        clock: Clock = _utc_now,
    ) -> None:
        """A conversation that has not started yet."""
        self.matcher = matcher
        self.policy = policy
        self.call_id = call_id
        self.clock = clock
        self.state = DialogueState()
        self.turns: list[Turn] = []
        self.decisions: list[Decision] = []
        self.escalation: Escalation | None = None

    @property
    def ended(self) -> bool:
        """No more input is expected."""
        return self.state.phase == "ended"

    def start(self) -> list[Action]:
        """Greet the caller."""
        return self._apply(ConversationStarted())

    def hear(self, text: str, alternatives: Sequence[str] = ()) -> list[Action]:
        """The caller said `text` (with optional n-best alternatives)."""
        try:
            understood = self.understand(text, alternatives)
        except Exception as exc:  # any engine failure: apology and a person, never silence
            self.turns.append(Turn("caller", text, self.clock()))
            return self.fail(f"{type(exc).__name__}: {exc}")
        return self.commit(text, understood)

    def understand(self, text: str, alternatives: Sequence[str] = ()) -> Understanding:
        """Match `text` without changing the conversation (the call session may wait for more)."""
        decision = self.matcher.match(text, alternatives)
        choice = None
        if self.state.clarify_options:
            choice = self.matcher.choose_between(text, self.state.clarify_options)
        return Understanding(decision, choice)

    def is_final(self, text: str, understood: Understanding) -> bool:
        """Worth acting on at once, without waiting to hear whether the caller goes on."""
        if self.state.phase == "clarifying" or understood.decision.kind == "answer":
            return True
        return wants_operator(text) or is_closing(text)

    def commit(self, text: str, understood: Understanding) -> list[Action]:
        """Record the utterance and let the policy act on the decision."""
        self.turns.append(Turn("caller", text, self.clock()))
        self.decisions.append(understood.decision)
        return self._apply(CallerSaid(text, understood.decision, understood.choice))

    def fail(self, detail: str) -> list[Action]:
        """An engine broke: apology and a person."""
        return self._apply(InternalFailure(detail))

    def notice(self, event: PolicyEvent) -> list[Action]:
        """A non-speech event for the policy (silence, time limit)."""
        return self._apply(event)

    def press(self, digit: str) -> list[Action]:
        """The caller pressed a key."""
        self.turns.append(Turn("caller", f"[DTMF {digit}]", self.clock()))
        return self._apply(KeyPressed(digit))

    def _apply(self, event: PolicyEvent) -> list[Action]:
        self.state, actions = self.policy.step(self.state, event)
        for action in actions:
            if isinstance(action, Say):
                self.turns.append(Turn("bot", action.text, self.clock()))
            elif isinstance(action, Escalate):
                self.escalation = build_escalation(
                    self.policy.kb,
                    self.call_id,
                    action.reason,
                    action.topic,
                    self.turns,
                    self.state.answered,
                )
        return actions
