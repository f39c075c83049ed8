"""Measuring the matcher on labelled phrasings, and calibrating its thresholds.

The JSON of `voicebot kb eval --json` is a contract other tools rely on: see `EvalReport`.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from voicebot.errors import KnowledgeBaseError
from voicebot.events import Candidate
from voicebot.knowledge import KnowledgeBase, Thresholds
from voicebot.matcher import Matcher, decide


@dataclass(frozen=True)
class EvalCase:
    """A caller phrasing and the entries that count as correct (none: out of scope)."""

    text: str
    expected: str | None
    accept: tuple[str, ...] = ()
    line: int = 0

    @property
    def correct(self) -> frozenset[str]:
        """Every entry id that answers this case correctly."""
        return frozenset(([self.expected] if self.expected else []) + list(self.accept))


@dataclass(frozen=True)
class ScoredCase:
    """A case with the matcher's top candidates and the time it took."""

    case: EvalCase
    candidates: tuple[Candidate, ...]
    elapsed_ms: float


@dataclass(frozen=True)
class EvalReport:
    """The eval contract. clarified and escalated count all cases, in and out of scope."""

    cases: int
    in_scope: int
    out_of_scope: int
    answered_correct: int
    answered_wrong: int
    clarified: int
    escalated: int
    oos_answered: int
    accuracy: float
    wrong_answer_rate: float
    oos_answer_rate: float
    top1: float
    p95_ms: float

    def to_json(self) -> str:
        """One JSON object, integer and float fields as in the contract."""
        return json.dumps(asdict(self), ensure_ascii=False)


def load_eval_cases(path: Path, kb: KnowledgeBase | None = None) -> list[EvalCase]:
    """Read JSON lines; every bad line (and every id the KB lacks) is reported with its number."""
    cases: list[EvalCase] = []
    problems: list[str] = []
    known = {e.id for e in kb.entries} if kb else None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            text = data["text"]
            expected = data.get("expected")
            accept = tuple(data.get("accept") or ())
            if not isinstance(text, str) or not (expected is None or isinstance(expected, str)):
                raise TypeError("text must be a string, expected a string or null")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{path.name}:{number}: неверная строка: {exc}")
            continue
        if known is not None:
            for entry_id in ([expected] if expected else []) + list(accept):
                if entry_id not in known:
                    problems.append(f"{path.name}:{number}: нет записи «{entry_id}» в базе знаний")
        cases.append(EvalCase(text, expected, accept, number))
    if problems:
        raise KnowledgeBaseError(f"ошибки в файле примеров {path}: {len(problems)}", problems)
    return cases


def score_cases(matcher: Matcher, cases: Iterable[EvalCase]) -> list[ScoredCase]:
    """Rank every case once (thresholds are applied later, so calibration reuses this)."""
    scored = []
    for case in cases:
        ranking = matcher.rank(case.text, top=3)
        scored.append(ScoredCase(case, ranking.candidates, ranking.elapsed_ms))
    return scored


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


def report(scored: Sequence[ScoredCase], thresholds: Thresholds) -> EvalReport:
    """Apply `thresholds` to scored cases and count outcomes."""
    counts = {
        "correct": 0,
        "wrong": 0,
        "clarified": 0,
        "escalated": 0,
        "oos_answered": 0,
        "top1": 0,
    }
    in_scope = 0
    for item in scored:
        correct = item.case.correct
        decision = decide(item.candidates, thresholds)
        if correct:
            in_scope += 1
            if item.candidates and item.candidates[0].entry_id in correct:
                counts["top1"] += 1
        if decision.kind == "answer":
            if not correct:
                counts["oos_answered"] += 1
            elif decision.entry_id in correct:
                counts["correct"] += 1
            else:
                counts["wrong"] += 1
        elif decision.kind == "clarify" and {c.entry_id for c in decision.candidates} & correct:
            counts["clarified"] += 1
        else:  # escalated, or a clarification that offers no correct entry: a person takes it
            counts["escalated"] += 1
    out_of_scope = len(scored) - in_scope
    return EvalReport(
        cases=len(scored),
        in_scope=in_scope,
        out_of_scope=out_of_scope,
        answered_correct=counts["correct"],
        answered_wrong=counts["wrong"],
        clarified=counts["clarified"],
        escalated=counts["escalated"],
        oos_answered=counts["oos_answered"],
        accuracy=round(counts["correct"] / in_scope, 4) if in_scope else 0.0,
        wrong_answer_rate=round(counts["wrong"] / in_scope, 4) if in_scope else 0.0,
        oos_answer_rate=round(counts["oos_answered"] / out_of_scope, 4) if out_of_scope else 0.0,
        top1=round(counts["top1"] / in_scope, 4) if in_scope else 0.0,
        p95_ms=round(_percentile([s.elapsed_ms for s in scored], 0.95), 2),
    )


# --- calibration ---------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationTargets:
    """The most wrong answers we accept: a wrong answer costs more than an escalation."""

    max_wrong_answer_rate: float = 0.03
    max_oos_answer_rate: float = 0.05


@dataclass(frozen=True)
class Calibration:
    """Chosen thresholds, their report, the trade-off curve and a cross-validated estimate."""

    thresholds: Thresholds
    report: EvalReport
    tradeoff: tuple[tuple[float, EvalReport], ...]
    cross_validated: EvalReport | None
    meets_targets: bool = True


def _grid(start: float, stop: float, step: float) -> list[float]:
    return [round(start + i * step, 3) for i in range(round((stop - start) / step) + 1)]


def _fits(r: EvalReport, targets: CalibrationTargets) -> bool:
    return (
        r.wrong_answer_rate <= targets.max_wrong_answer_rate
        and r.oos_answer_rate <= targets.max_oos_answer_rate
    )


def fit_thresholds(scored: Sequence[ScoredCase], targets: CalibrationTargets) -> Thresholds:
    """The answer threshold and margin with the best accuracy within the targets, then the clarify band."""
    best: tuple[tuple[float, ...], Thresholds] | None = None
    for answer in _grid(0.30, 0.95, 0.01):
        for margin in _grid(0.0, 0.12, 0.02):
            candidate = Thresholds(answer=answer, clarify=answer, margin=margin)
            r = report(scored, candidate)
            if not _fits(r, targets):
                continue
            # Ties go to the higher threshold and margin: as accurate here, safer on new questions.
            key = (r.accuracy, -r.answered_wrong - r.oos_answered, answer, margin)
            if best is None or key > best[0]:
                best = (key, candidate)
    chosen = best[1] if best else Thresholds(answer=0.99, clarify=0.99, margin=0.0)
    # Clarify band: asking "X or Y?" is cheap when one of them is right, a nuisance otherwise.
    best_clarify = (-math.inf, chosen.answer)
    for clarify in _grid(0.20, chosen.answer, 0.01):
        trial = replace(chosen, clarify=clarify)
        gain = report(scored, trial).clarified - 0.5 * _useless_clarifications(scored, trial)
        if gain > best_clarify[0]:
            best_clarify = (gain, clarify)
    return replace(chosen, clarify=best_clarify[1])


def _useless_clarifications(scored: Sequence[ScoredCase], thresholds: Thresholds) -> int:
    """Clarifying questions that offer no correct entry (including every out-of-scope one)."""
    count = 0
    for item in scored:
        decision = decide(item.candidates, thresholds)
        if (
            decision.kind == "clarify"
            and not {c.entry_id for c in decision.candidates} & item.case.correct
        ):
            count += 1
    return count


def calibrate(
    scored: Sequence[ScoredCase], targets: CalibrationTargets, folds: int = 5, seed: int = 7
) -> Calibration:
    """Fit thresholds on all cases; estimate how they generalise by k-fold cross-validation."""
    thresholds = fit_thresholds(scored, targets)
    tradeoff = tuple(
        (
            answer,
            report(
                scored,
                Thresholds(answer=answer, clarify=thresholds.clarify, margin=thresholds.margin),
            ),
        )
        for answer in _grid(0.40, 0.90, 0.05)
    )
    cross_validated = None
    if len(scored) >= folds * 10:
        order = list(range(len(scored)))
        random.Random(seed).shuffle(order)
        held_out: list[tuple[ScoredCase, Thresholds]] = []
        for fold in range(folds):
            test_ix = set(order[fold::folds])
            train = [s for i, s in enumerate(scored) if i not in test_ix]
            fold_thresholds = fit_thresholds(train, targets)
            held_out.extend((scored[i], fold_thresholds) for i in sorted(test_ix))
        cross_validated = _report_mixed(held_out)
    fitted = report(scored, thresholds)
    return Calibration(thresholds, fitted, tradeoff, cross_validated, _fits(fitted, targets))


def _report_mixed(items: Sequence[tuple[ScoredCase, Thresholds]]) -> EvalReport:
    """Sum per-case reports made with per-fold thresholds."""
    parts = [report([s], t) for s, t in items]
    total = {
        f: sum(getattr(p, f) for p in parts)
        for f in (
            "cases",
            "in_scope",
            "out_of_scope",
            "answered_correct",
            "answered_wrong",
            "clarified",
            "escalated",
            "oos_answered",
        )
    }
    top1 = sum(p.top1 * p.in_scope for p in parts)
    in_scope, oos = total["in_scope"], total["out_of_scope"]
    return EvalReport(
        **total,
        accuracy=round(total["answered_correct"] / in_scope, 4) if in_scope else 0.0,
        wrong_answer_rate=round(total["answered_wrong"] / in_scope, 4) if in_scope else 0.0,
        oos_answer_rate=round(total["oos_answered"] / oos, 4) if oos else 0.0,
        top1=round(top1 / in_scope, 4) if in_scope else 0.0,
        p95_ms=round(_percentile([s.elapsed_ms for s, _ in items], 0.95), 2),
    )
