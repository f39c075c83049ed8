"""Replay before publishing: how a candidate knowledge base would decide, next to the current one.

Both knowledge bases answer the eval cases (scored and counted by voicebot.evaluation, each with
its own thresholds) and recent real caller utterances; the report gives accuracy, wrong answers
and out-of-scope answers for both, and every case or utterance whose decision changes. Pure
given its inputs (matchers are built from the injected embedder and lemmatiser).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from voicebot.embedding import Embedder
from voicebot.errors import KnowledgeBaseError
from voicebot.evaluation import EvalCase, EvalReport, ScoredCase, report, score_cases
from voicebot.events import Decision
from voicebot.kb_edit import KbDraft, load_draft
from voicebot.knowledge import KnowledgeBase
from voicebot.matcher import Matcher, decide
from voicebot.store.calls import TurnRecord
from voicebot.text import Lemmatizer

KbSource = KnowledgeBase | KbDraft | Path


@dataclass(frozen=True)
class RecentUtterance:
    """What a caller really said, and what the bot decided then."""

    text: str
    decision: str | None  # answer | clarify | escalate (None: not recorded)
    entry_id: str | None = None
    alternatives: tuple[str, ...] = ()
    call_id: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """One decision, reduced to what an editor compares."""

    kind: str
    entry_id: str | None
    score: float

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        """From a matcher decision (score: the best candidate's)."""
        best = decision.candidates[0].score if decision.candidates else 0.0
        return cls(decision.kind, decision.entry_id, round(best, 4))

    def same_as(self, other: Outcome) -> bool:
        """The same verdict (scores may differ)."""
        return (self.kind, self.entry_id) == (other.kind, other.entry_id)


@dataclass(frozen=True)
class ChangedDecision:
    """A phrase whose decision differs between the current and the candidate knowledge base."""

    source: Literal["eval", "utterance"]
    text: str
    before: Outcome
    after: Outcome
    expected: frozenset[str] | None = (
        None  # eval cases: the correct entry ids (empty: out of scope)
    )
    then: RecentUtterance | None = None  # utterances: what was recorded

    @property
    def verdict(self) -> str:
        """For eval cases: "better", "worse" or "neutral"; for utterances "changed"."""
        if self.expected is None:
            return "changed"
        good_before, good_after = (
            _good(self.before, self.expected),
            _good(self.after, self.expected),
        )
        if good_after > good_before:
            return "better"
        return "worse" if good_after < good_before else "neutral"


@dataclass(frozen=True)
class ReplayReport:
    """Eval results of both knowledge bases, and what changes."""

    before: EvalReport
    after: EvalReport
    changed: tuple[ChangedDecision, ...]
    utterances: int
    answered_before: int  # of the utterances
    answered_after: int

    @property
    def accuracy_change(self) -> float:
        """after - before, in points of accuracy (0..1)."""
        return round(self.after.accuracy - self.before.accuracy, 4)

    @property
    def wrong_answer_change(self) -> float:
        """after - before of the wrong-answer rate."""
        return round(self.after.wrong_answer_rate - self.before.wrong_answer_rate, 4)

    @property
    def oos_answer_change(self) -> float:
        """after - before of the out-of-scope answer rate."""
        return round(self.after.oos_answer_rate - self.before.oos_answer_rate, 4)


def _good(outcome: Outcome, expected: frozenset[str]) -> int:
    """2: answered right (or declined out of scope); 1: a person takes it; 0: a wrong answer."""
    if outcome.kind == "answer":
        return 2 if expected and outcome.entry_id in expected else 0
    return 2 if not expected else 1


def as_knowledge_base(source: KbSource) -> KnowledgeBase:
    """A knowledge base from a loaded one, a draft or a directory."""
    if isinstance(source, KnowledgeBase):
        return source
    if isinstance(source, KbDraft):
        return source.knowledge_base()
    return load_draft(source).knowledge_base()


def replay(
    current: KbSource,
    candidate: KbSource,
    embedder: Embedder,
    lemmatizer: Lemmatizer,
    cases: Sequence[EvalCase],
    utterances: Sequence[RecentUtterance] = (),
    *,
    cache_dir: Path | None = None,
    background: Sequence[str] = (),
) -> ReplayReport:
    """Build a matcher for each knowledge base and compare them (see `replay_matchers`)."""

    def matcher(source: KbSource) -> Matcher:
        kb = as_knowledge_base(source)
        return Matcher(kb, embedder, lemmatizer, cache_dir=cache_dir, background=background)

    return replay_matchers(matcher(current), matcher(candidate), cases, utterances)


def replay_matchers(
    current: Matcher,
    candidate: Matcher,
    cases: Sequence[EvalCase],
    utterances: Sequence[RecentUtterance] = (),
) -> ReplayReport:
    """Eval cases and utterances through both matchers, each with its own thresholds."""
    scored_before, scored_after = score_cases(current, cases), score_cases(candidate, cases)
    changed: list[ChangedDecision] = []
    for old, new in zip(scored_before, scored_after, strict=True):
        before = Outcome.of(decide(old.candidates, current.thresholds))
        after = Outcome.of(decide(new.candidates, candidate.thresholds))
        if not before.same_as(after):
            changed.append(
                ChangedDecision("eval", old.case.text, before, after, expected=old.case.correct)
            )
    answered = [0, 0]
    for utterance in utterances:
        before = Outcome.of(current.match(utterance.text, utterance.alternatives))
        after = Outcome.of(candidate.match(utterance.text, utterance.alternatives))
        answered[0] += before.kind == "answer"
        answered[1] += after.kind == "answer"
        if not before.same_as(after):
            changed.append(
                ChangedDecision("utterance", utterance.text, before, after, then=utterance)
            )
    return ReplayReport(
        before=_report(scored_before, current),
        after=_report(scored_after, candidate),
        changed=tuple(changed),
        utterances=len(utterances),
        answered_before=answered[0],
        answered_after=answered[1],
    )


def _report(scored: Sequence[ScoredCase], matcher: Matcher) -> EvalReport:
    return report(scored, matcher.thresholds)


def eval_cases_in(files: Mapping[str, str]) -> list[EvalCase]:
    """The eval cases of a knowledge base's files (eval/*.jsonl, the `kb eval` format); entry ids
    are not checked against the knowledge base (a candidate may have deleted one: that case then
    counts as missed)."""
    cases: list[EvalCase] = []
    problems: list[str] = []
    for path in sorted(p for p in files if p.startswith("eval/") and p.endswith(".jsonl")):
        for number, raw in enumerate(files[path].splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
                text, expected = data["text"], data.get("expected")
                accept = tuple(str(a) for a in data.get("accept") or ())
                if not isinstance(text, str) or not (expected is None or isinstance(expected, str)):
                    raise TypeError("text must be a string, expected a string or null")
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                problems.append(f"{path}:{number}: неверная строка: {exc}")
                continue
            cases.append(EvalCase(text, expected, accept, number))
    if problems:
        raise KnowledgeBaseError(f"ошибки в примерах: {len(problems)}", problems)
    return cases


def utterances_from_turns(turns: Iterable[TurnRecord]) -> list[RecentUtterance]:
    """Caller turns the matcher decided on (from CallStore.turns), as replayable utterances."""
    return [
        RecentUtterance(
            text=turn.text,
            decision=turn.decision,
            entry_id=turn.entry_id,
            alternatives=tuple(turn.alternatives),
            call_id=turn.call_id,
            at=turn.started_at,
        )
        for turn in turns
        if turn.role == "caller" and turn.decision is not None and turn.text.strip()
    ]
