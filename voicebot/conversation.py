"""A conversation over text: matcher + policy + transcript. The call session wraps the same loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
)
from voicebot.events import Decision, Escalation, Turn
from voicebot.handoff import build_escalation
from voicebot.matcher import Matcher

Clock = Callable[[], datetime]


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
        self.turns.append(Turn("caller", text, self.clock()))
        try:
            decision = self.matcher.match(text, alternatives)
            choice = None
            if self.state.clarify_options:
                choice = self.matcher.choose_between(text, self.state.clarify_options)
        except Exception as exc:  # any engine failure: apology and a person, never silence
            return self._apply(InternalFailure(f"{type(exc).__name__}: {exc}"))
        self.decisions.append(decision)
        return self._apply(CallerSaid(text, decision, choice))

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
