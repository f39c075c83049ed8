"""The dialogue policy: a pure function of (state, event) -> (new state, actions).

The same policy drives a text chat and a phone call. The matcher runs before the policy:
events carry its decision, so the policy does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from voicebot.events import Candidate, Decision
from voicebot.knowledge import KnowledgeBase

Phase = Literal["start", "listening", "clarifying", "after_answer", "rating", "ended"]

# --- events the policy reacts to ----------------------------------------------------


@dataclass(frozen=True)
class ConversationStarted:
    """The caller is on the line."""


@dataclass(frozen=True)
class CallerSaid:
    """A final utterance with the matcher's decision; `choice` is set while clarifying."""

    text: str
    decision: Decision
    choice: Candidate | None = None


@dataclass(frozen=True)
class KeyPressed:
    """A DTMF key."""

    digit: str


@dataclass(frozen=True)
class InternalFailure:
    """Something inside broke (an engine raised): apologise and hand over."""

    detail: str


@dataclass(frozen=True)
class CallerSilent:
    """The caller said nothing for the silence timeout after the bot finished speaking."""


@dataclass(frozen=True)
class TimeLimitReached:
    """The call reached its maximum length with the bot: hand it to a person."""


PolicyEvent = (
    ConversationStarted
    | CallerSaid
    | KeyPressed
    | InternalFailure
    | CallerSilent
    | TimeLimitReached
)

# --- actions the policy asks for ------------------------------------------------------

SayKind = Literal["greeting", "answer", "prompt", "clarify", "goodbye", "transfer", "apology"]


@dataclass(frozen=True)
class Say:
    """Speak (or print) this text."""

    text: str
    kind: SayKind
    entry_id: str | None = None


@dataclass(frozen=True)
class Escalate:
    """Hand the conversation to a person of `topic`'s queue."""

    reason: str
    topic: str | None


@dataclass(frozen=True)
class EndConversation:
    """Politely finish."""

    reason: str


@dataclass(frozen=True)
class RecordRating:
    """The caller rated the conversation (1-5)."""

    value: int


Action = Say | Escalate | EndConversation | RecordRating


@dataclass(frozen=True)
class DialogueState:
    """Where the conversation is."""

    phase: Phase = "start"
    misses: int = 0
    clarify_options: tuple[str, ...] = ()
    clarify_attempts: int = 0
    answered: tuple[str, ...] = ()
    last_topic: str | None = None
    silences: int = 0


# Escalation reasons (stable strings: stored with calls, shown in reports).
REASON_CALLER_REQUEST = "caller_request"
REASON_ENTRY = "entry_requires_operator"
REASON_NOT_UNDERSTOOD = "not_understood"
REASON_INTERNAL_ERROR = "internal_error"
REASON_TIME_LIMIT = "time_limit"

_OPERATOR_REQUEST = re.compile(
    r"\bоператор\w*|\bживо\w* (?:человек|сотрудник)\w*|\bс человеком\b"
    r"|\b(?:соедин|перевед|переключ|позов|позвать|дайте|поговорить|свяжите)\w*"
    r"(?: \w+){0,3} (?:человек|специалист|сотрудник|консультант|менеджер)\w*"
)
_CLOSING_WORDS = frozenset(
    "нет неа не все всё ничего больше спасибо большое огромное до свидания пока всего доброго "
    "хорошо понятно ясно отлично благодарю ок окей ладно вопросов нету надо нужно уже".split()
)
_CLOSING_MARKERS = frozenset(
    "нет неа ничего свидания пока спасибо благодарю доброго все всё".split()
)
_YES_WORDS = frozenset("да ага угу конечно есть еще ещё один вопрос хорошо можно давайте".split())
_FIRST = frozenset("первое первый первую первая первого".split())
_SECOND = frozenset("второе второй вторую вторая второго последнее последний".split())
# «ни то ни другое», «ни первое ни второе», «ничего из этого»: neither option.
_NEITHER = re.compile(r"\bни \w+ ни \w+|\bничего из (?:этого|них)\b|\bни одно\w*\b")
# A bare «нет» / «другое» rejects the option the matcher would pick from the reply.
_REJECT = re.compile(r"\bдругое\b|\bнет\b")


def plain_words(text: str) -> list[str]:
    """Lowercase words without punctuation, ё as е: for keyword intents."""
    return re.sub(r"[^\w\s]", " ", text.lower().replace("ё", "е")).split()


def wants_operator(text: str) -> bool:
    """The caller asks for a person («оператор», «живой человек», «соедините со специалистом»)."""
    return bool(_OPERATOR_REQUEST.search(" ".join(plain_words(text))))


def is_closing(text: str) -> bool:
    """The caller has nothing more («нет, спасибо», «всё, до свидания»)."""
    words = set(plain_words(text))
    return bool(words) and words <= _CLOSING_WORDS and bool(words & _CLOSING_MARKERS)


def is_yes(text: str) -> bool:
    """A bare «да» / «есть ещё вопрос» without the question itself."""
    words = set(plain_words(text))
    return bool(words) and words <= _YES_WORDS


class DialoguePolicy:
    """The first-line conversation rules for one knowledge base."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        max_misses: int = 2,
        max_clarify_attempts: int = 2,
        max_silences: int = 2,
        operators_working: Callable[[str | None], bool] = lambda _topic: True,
    ) -> None:
        """`max_misses` non-understood utterances escalate; `max_silences` silences hang up;
        `operators_working(topic)` says whether a transfer can reach a person now (outside
        the working hours the bot says so instead of «соединяю»)."""
        self.kb = kb
        self.prompts = kb.config.prompts
        self.max_misses = max_misses
        self.max_clarify_attempts = max_clarify_attempts
        self.max_silences = max_silences
        self.operators_working = operators_working

    def step(self, state: DialogueState, event: PolicyEvent) -> tuple[DialogueState, list[Action]]:
        """Apply one event; return the new state and what to do."""
        if state.phase == "ended":
            return state, []
        if isinstance(event, ConversationStarted):
            return replace(state, phase="listening"), [Say(self.kb.config.greeting, "greeting")]
        if isinstance(event, InternalFailure):
            return self._escalate(state, REASON_INTERNAL_ERROR, state.last_topic, apology=True)
        if isinstance(event, TimeLimitReached):
            return self._escalate(state, REASON_TIME_LIMIT, state.last_topic)
        if state.phase == "rating":
            return self._on_rating(state, event)
        if isinstance(event, CallerSilent):
            return self._on_silence(state)
        if isinstance(event, KeyPressed):
            if event.digit == "0":
                return self._escalate(state, REASON_CALLER_REQUEST, state.last_topic)
            return state, []
        return self._on_utterance(replace(state, silences=0), event)

    def _on_rating(
        self, state: DialogueState, event: PolicyEvent
    ) -> tuple[DialogueState, list[Action]]:
        """After «нет, спасибо» with the rating on: a key 1-5 (or the word) is the rating;
        anything else ends the call without one."""
        value: int | None = None
        if isinstance(event, KeyPressed) and event.digit in "12345" and len(event.digit) == 1:
            value = int(event.digit)
        elif isinstance(event, CallerSaid):
            value = spoken_rating(event.text)
        if isinstance(event, KeyPressed) and event.digit == "0":
            return self._escalate(state, REASON_CALLER_REQUEST, state.last_topic)
        ended = replace(state, phase="ended")
        if value is None:
            return ended, [Say(self.prompts.goodbye, "goodbye"), EndConversation("caller_finished")]
        return ended, [
            RecordRating(value),
            Say(self.prompts.rating_thanks, "goodbye"),
            EndConversation("caller_finished"),
        ]

    def _on_silence(self, state: DialogueState) -> tuple[DialogueState, list[Action]]:
        """First silence: «Вы меня слышите?»; the next one: a polite goodbye."""
        if state.silences + 1 >= self.max_silences:
            return replace(state, phase="ended"), [
                Say(self.prompts.silence_goodbye, "goodbye"),
                EndConversation("no_input"),
            ]
        return replace(state, silences=state.silences + 1), [
            Say(self.prompts.are_you_there, "prompt")
        ]

    def _on_utterance(
        self, state: DialogueState, event: CallerSaid
    ) -> tuple[DialogueState, list[Action]]:
        if wants_operator(event.text):
            return self._escalate(
                state, REASON_CALLER_REQUEST, self._topic_hint(state, event.decision)
            )
        if is_closing(event.text) and state.phase != "clarifying":
            if self.kb.config.post_call_rating:
                return replace(state, phase="rating"), [Say(self.prompts.rating_question, "prompt")]
            return replace(state, phase="ended"), [
                Say(self.prompts.goodbye, "goodbye"),
                EndConversation("caller_finished"),
            ]
        if state.phase == "clarifying":
            return self._on_clarification(state, event)
        if not event.decision.candidates and not plain_words(event.text):
            return state, [Say(self.prompts.listening, "prompt")]
        if state.phase == "after_answer" and is_yes(event.text):
            return replace(state, phase="listening"), [Say(self.prompts.listening, "prompt")]
        return self._on_decision(state, event.decision)

    def _on_decision(
        self, state: DialogueState, decision: Decision
    ) -> tuple[DialogueState, list[Action]]:
        if decision.kind == "answer" and decision.entry_id is not None:
            return self._answer(state, decision.entry_id)
        if decision.kind == "clarify" and len(decision.candidates) >= 2:
            first, second = (self.kb.entry(c.entry_id) for c in decision.candidates[:2])
            question = self.prompts.clarify.format(
                first=first.spoken_title, second=second.spoken_title
            )
            new_state = replace(
                state, phase="clarifying", clarify_options=(first.id, second.id), clarify_attempts=0
            )
            return new_state, [Say(question, "clarify")]
        return self._miss(state, decision)

    def _on_clarification(
        self, state: DialogueState, event: CallerSaid
    ) -> tuple[DialogueState, list[Action]]:
        said = " ".join(plain_words(event.text))
        words = set(said.split())
        options = state.clarify_options
        if _NEITHER.search(said):
            return self._clarification_failed(state)
        if words & _FIRST:
            return self._answer(state, options[0])
        if words & _SECOND:
            return self._answer(state, options[1])
        if event.decision.kind == "answer" and event.decision.entry_id is not None:
            return self._answer(state, event.decision.entry_id)
        if (
            event.choice is not None
            and event.choice.entry_id in options
            and not _REJECT.search(said)
        ):
            return self._answer(state, event.choice.entry_id)
        return self._clarification_failed(state)

    def _clarification_failed(self, state: DialogueState) -> tuple[DialogueState, list[Action]]:
        attempts = state.clarify_attempts + 1
        if attempts >= self.max_clarify_attempts:
            options = state.clarify_options
            topic = self.kb.entry(options[0]).topic if options else None
            return self._escalate(state, REASON_NOT_UNDERSTOOD, topic)
        return replace(state, clarify_attempts=attempts), [
            Say(self.prompts.clarify_again, "prompt")
        ]

    def _answer(self, state: DialogueState, entry_id: str) -> tuple[DialogueState, list[Action]]:
        entry = self.kb.entry(entry_id)
        new_state = replace(
            state,
            phase="after_answer",
            misses=0,
            clarify_options=(),
            clarify_attempts=0,
            answered=(*state.answered, entry.id),
            last_topic=entry.topic,
        )
        actions: list[Action] = [Say(entry.answer, "answer", entry.id)]
        if entry.escalate:
            escalated_state, escalation = self._escalate(new_state, REASON_ENTRY, entry.topic)
            return escalated_state, actions + escalation
        actions.append(Say(self.prompts.anything_else, "prompt"))
        return new_state, actions

    def _miss(self, state: DialogueState, decision: Decision) -> tuple[DialogueState, list[Action]]:
        misses = state.misses + 1
        if misses >= self.max_misses:
            return self._escalate(state, REASON_NOT_UNDERSTOOD, self._topic_hint(state, decision))
        new_state = replace(state, phase="listening", misses=misses, clarify_options=())
        return new_state, [Say(self.prompts.not_understood, "prompt")]

    def _topic_hint(self, state: DialogueState, decision: Decision) -> str | None:
        if decision.candidates:
            best = decision.candidates[0]
            if best.score >= self.kb.config.thresholds.clarify:
                return self.kb.entry(best.entry_id).topic
        return state.last_topic

    def _escalate(
        self, state: DialogueState, reason: str, topic: str | None, *, apology: bool = False
    ) -> tuple[DialogueState, list[Action]]:
        if apology:
            say = Say(self.prompts.apology, "apology")
        elif self.operators_working(topic):
            say = Say(self.prompts.transfer, "transfer")
        else:
            say = Say(self.prompts.closed_now, "transfer")
        return replace(state, phase="ended"), [say, Escalate(reason, topic)]


_RATING_WORDS = {
    "один": 1,
    "единица": 1,
    "кол": 1,
    "два": 2,
    "двойка": 2,
    "двойку": 2,
    "три": 3,
    "тройка": 3,
    "тройку": 3,
    "четыре": 4,
    "четвёрка": 4,
    "четверка": 4,
    "четвёрку": 4,
    "четверку": 4,
    "пять": 5,
    "пятёрка": 5,
    "пятерка": 5,
    "пятёрку": 5,
    "пятерку": 5,
    "отлично": 5,
}


def spoken_rating(text: str) -> int | None:
    """A rating said in words («пять», «на четвёрку», «отлично») or digits; None if unclear."""
    found = {
        _RATING_WORDS.get(word, int(word) if word in {"1", "2", "3", "4", "5"} else 0)
        for word in re.findall(r"[а-яёa-z0-9]+", text.lower())
    } - {0}
    return found.pop() if len(found) == 1 else None
