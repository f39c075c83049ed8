"""Evaluation: the JSON contract, eval-case files, and threshold calibration (ScoredCase literals)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicebot.errors import KnowledgeBaseError
from voicebot.evaluation import (
    CalibrationTargets,
    EvalCase,
    EvalReport,
    ScoredCase,
    calibrate,
    load_eval_cases,
    report,
    score_cases,
)
from voicebot.events import Candidate
from voicebot.knowledge import KnowledgeBase, Thresholds
from voicebot.matcher import Matcher

THRESHOLDS = Thresholds(answer=0.75, clarify=0.5, margin=0.125)
CONTRACT_INTS = [
    "cases",
    "in_scope",
    "out_of_scope",
    "answered_correct",
    "answered_wrong",
    "clarified",
    "escalated",
    "oos_answered",
]
CONTRACT_FLOATS = ["accuracy", "wrong_answer_rate", "oos_answer_rate", "top1", "p95_ms"]


def scored(
    expected: str | None,
    ranked: list[tuple[str, float]],
    accept: tuple[str, ...] = (),
    elapsed: float = 1.0,
) -> ScoredCase:
    """A scored case from (entry id, fused score) pairs, best first."""
    candidates = tuple(Candidate(entry_id, score, 0.0, 0.0) for entry_id, score in ranked)
    return ScoredCase(EvalCase("вопрос", expected, accept), candidates, elapsed)


# One case of every outcome; elapsed 1..10 ms.
MIXED = [
    scored("a", [("a", 0.9), ("b", 0.2)], elapsed=1.0),  # answered correctly
    scored("a", [("b", 0.9), ("c", 0.1)], accept=("b",), elapsed=2.0),  # accepted id: correct
    scored("a", [("c", 0.9), ("a", 0.1)], elapsed=3.0),  # answered wrong
    scored("a", [("b", 0.55), ("a", 0.53)], elapsed=4.0),  # clarification offering the right one
    scored("a", [("b", 0.55), ("c", 0.53)], elapsed=5.0),  # clarification offering nothing right
    scored("a", [("a", 0.2)], elapsed=6.0),  # escalated, but top-1 right
    scored(None, [("a", 0.9)], elapsed=7.0),  # out of scope, answered
    scored(None, [("a", 0.1)], elapsed=8.0),  # out of scope, escalated
    scored(
        None, [("a", 0.55), ("b", 0.52)], elapsed=9.0
    ),  # out of scope, clarified: a person takes it
    scored(None, [], elapsed=10.0),  # nothing matched
]


def test_report_counts_every_outcome() -> None:
    result = report(MIXED, THRESHOLDS)

    assert result == EvalReport(
        cases=10,
        in_scope=6,
        out_of_scope=4,
        answered_correct=2,
        answered_wrong=1,
        clarified=1,
        escalated=5,
        oos_answered=1,
        accuracy=0.3333,
        wrong_answer_rate=0.1667,
        oos_answer_rate=0.25,
        top1=0.5,
        p95_ms=10.0,
    )
    assert (
        result.answered_correct
        + result.answered_wrong
        + result.clarified
        + result.escalated
        + result.oos_answered
    ) == result.cases


def test_report_json_is_exactly_the_contract() -> None:
    data = json.loads(report(MIXED, THRESHOLDS).to_json())

    assert list(data) == CONTRACT_INTS + CONTRACT_FLOATS
    assert all(type(data[name]) is int for name in CONTRACT_INTS)
    assert all(type(data[name]) is float for name in CONTRACT_FLOATS)
    assert data["accuracy"] == pytest.approx(data["answered_correct"] / data["in_scope"], abs=1e-4)
    assert data["wrong_answer_rate"] == pytest.approx(
        data["answered_wrong"] / data["in_scope"], abs=1e-4
    )
    assert data["oos_answer_rate"] == pytest.approx(
        data["oos_answered"] / data["out_of_scope"], abs=1e-4
    )


def test_report_of_nothing_is_zeros_with_contract_types() -> None:
    data = json.loads(report([], THRESHOLDS).to_json())

    assert data == dict.fromkeys(CONTRACT_INTS, 0) | dict.fromkeys(CONTRACT_FLOATS, 0.0)
    assert all(type(data[name]) is float for name in CONTRACT_FLOATS)


def test_all_correct_accuracy_is_one_as_a_float() -> None:
    data = json.loads(report([scored("a", [("a", 0.9)])], THRESHOLDS).to_json())

    assert data["accuracy"] == 1.0 and type(data["accuracy"]) is float
    assert data["oos_answer_rate"] == 0.0  # no out-of-scope cases: no division by zero


def test_p95_is_the_nearest_rank_percentile() -> None:
    cases = [scored("a", [("a", 0.9)], elapsed=float(ms)) for ms in range(1, 21)]

    assert report(cases, THRESHOLDS).p95_ms == 19.0


# --- eval case files -------------------------------------------------------------------------


def test_load_eval_cases_reads_every_field_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"text": "как узнать баланс", "expected": "balance-check"}\n'
        "\n"
        '{"text": "какая погода", "expected": null}\n'
        '{"text": "оплата", "expected": "payment-methods", "accept": ["balance-check"]}\n',
        encoding="utf-8",
    )

    cases = load_eval_cases(path)

    assert cases == [
        EvalCase("как узнать баланс", "balance-check", (), 1),
        EvalCase("какая погода", None, (), 3),
        EvalCase("оплата", "payment-methods", ("balance-check",), 4),
    ]
    assert cases[2].correct == frozenset({"payment-methods", "balance-check"})
    assert cases[1].correct == frozenset()


def test_bad_lines_are_all_reported_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"text": "хорошо", "expected": null}\n'
        "не json\n"
        '{"expected": "a"}\n'
        '{"text": 5, "expected": null}\n'
        '{"text": "x", "expected": 3}\n'
        "[1, 2]\n",
        encoding="utf-8",
    )

    with pytest.raises(KnowledgeBaseError) as caught:
        load_eval_cases(path)

    assert [p.split(": ")[0] for p in caught.value.problems] == [
        "cases.jsonl:2",
        "cases.jsonl:3",
        "cases.jsonl:4",
        "cases.jsonl:5",
        "cases.jsonl:6",
    ]
    assert all("неверная строка" in p for p in caught.value.problems)
    assert str(caught.value) == f"ошибки в файле примеров {path}: 5"


def test_unknown_entry_ids_are_reported_when_a_kb_is_given(
    tmp_path: Path, small_kb: KnowledgeBase
) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"text": "баланс", "expected": "balance-check"}\n'
        '{"text": "тариф", "expected": "tariff-change"}\n'
        '{"text": "оплата", "expected": "payment-methods", "accept": ["nope"]}\n',
        encoding="utf-8",
    )

    assert len(load_eval_cases(path)) == 3  # without a KB ids are not checked
    with pytest.raises(KnowledgeBaseError) as caught:
        load_eval_cases(path, small_kb)

    assert caught.value.problems == [
        "cases.jsonl:2: нет записи «tariff-change» в базе знаний",
        "cases.jsonl:3: нет записи «nope» в базе знаний",
    ]


def test_score_cases_ranks_each_case_once(fake_matcher: Matcher) -> None:
    cases = [EvalCase("как узнать баланс", "balance-check"), EvalCase("какая погода", None)]

    result = score_cases(fake_matcher, cases)

    assert [s.case for s in result] == cases
    assert [len(s.candidates) for s in result] == [3, 3]
    assert result[0].candidates[0].entry_id == "balance-check"
    assert all(s.elapsed_ms > 0 for s in result)
    assert report(result, fake_matcher.thresholds).answered_correct == 1


# --- calibration ---------------------------------------------------------------------------

CALIBRATION_SET = (
    [scored(f"e{i % 3}", [(f"e{i % 3}", 0.9), ("y", 0.3)]) for i in range(20)]  # easy
    + [scored(f"e{i % 3}", [(f"e{i % 3}", 0.65), ("y", 0.3)]) for i in range(10)]  # harder, right
    + [scored("a", [("b", 0.7), ("a", 0.61)]) for _ in range(5)]  # top-1 wrong, close second
    + [scored(f"e{i % 3}", [(f"e{i % 3}", 0.58), ("y", 0.2)]) for i in range(5)]  # low, right
    + [scored(None, [("a", 0.6), ("b", 0.2)]) for _ in range(12)]  # out of scope, confident
)


def test_calibrate_respects_strict_targets() -> None:
    result = calibrate(
        CALIBRATION_SET, CalibrationTargets(max_wrong_answer_rate=0.0, max_oos_answer_rate=0.0)
    )

    # Above every out-of-scope score, a margin wider than the wrong top-1's 0.09; ties go to the
    # highest threshold and margin that keep the same accuracy (safer on new questions).
    assert result.thresholds == Thresholds(answer=0.65, clarify=0.61, margin=0.12)
    assert result.report.answered_wrong == 0
    assert result.report.oos_answered == 0
    assert result.report.answered_correct == 30
    assert result.report.accuracy == 0.75
    assert result.report.clarified == 5  # the close wrong top-1s: "X or Y?" offers the right one
    assert result.report == report(CALIBRATION_SET, result.thresholds)


def test_calibrate_answers_more_when_targets_allow_it() -> None:
    strict = calibrate(CALIBRATION_SET, CalibrationTargets(0.0, 0.0))
    loose = calibrate(
        CALIBRATION_SET, CalibrationTargets(max_wrong_answer_rate=1.0, max_oos_answer_rate=1.0)
    )

    assert loose.thresholds.answer <= 0.58
    assert loose.report.accuracy == 0.875 > strict.report.accuracy
    assert loose.report.oos_answer_rate == 1.0
    assert loose.report.answered_wrong == 0  # allowed, but it buys no accuracy


def test_calibrate_with_unreachable_targets_answers_almost_nothing() -> None:
    impossible = [scored(None, [("a", 1.0)]), scored("a", [("a", 1.0)])]

    result = calibrate(impossible, CalibrationTargets(0.0, 0.0))

    assert (result.thresholds.answer, result.thresholds.margin) == (0.99, 0.0)
    assert result.report.oos_answered == 1  # nothing on the grid can refuse a perfect score


def test_calibration_tradeoff_and_cross_validation() -> None:
    small = calibrate(CALIBRATION_SET[:49], CalibrationTargets())
    full = calibrate(CALIBRATION_SET, CalibrationTargets())

    assert [answer for answer, _ in full.tradeoff] == [
        0.4,
        0.45,
        0.5,
        0.55,
        0.6,
        0.65,
        0.7,
        0.75,
        0.8,
        0.85,
        0.9,
    ]
    assert all(r.cases == len(CALIBRATION_SET) for _, r in full.tradeoff)
    assert small.cross_validated is None  # under folds * 10 cases
    assert full.cross_validated is not None
    assert full.cross_validated.cases == len(CALIBRATION_SET)
    assert full.cross_validated.in_scope == 40
    assert full.cross_validated.out_of_scope == 12
