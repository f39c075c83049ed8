"""Replay before publishing: both knowledge bases on the eval cases and on real utterances."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SMALL_FAQ, WriteKb

from voicebot.embedding import HashingEmbedder
from voicebot.errors import KnowledgeBaseError
from voicebot.evaluation import EvalCase
from voicebot.kb_edit import KbDraft, create_entry, delete_entry, load_draft
from voicebot.kb_publish import (
    RecentUtterance,
    eval_cases_in,
    replay,
    utterances_from_turns,
)
from voicebot.knowledge import FaqEntry
from voicebot.store.calls import TurnRecord
from voicebot.text import IdentityLemmatizer

TV = FaqEntry(
    id="tv-connect",
    topic="tech",
    questions=("как подключить телевидение", "подключить тв", "хочу смотреть телевидение"),
    answer="Телевидение подключается в личном кабинете.",
)
CASES = [
    EvalCase("как подключить телевидение", "tv-connect"),
    EvalCase("как узнать баланс", "balance-check"),
    EvalCase("не работает интернет", "internet-down"),
    EvalCase("какая завтра погода", None),
]


@pytest.fixture
def current(write_kb: WriteKb) -> KbDraft:
    return load_draft(write_kb(SMALL_FAQ))


def test_a_new_entry_shows_as_better_accuracy_and_changed_utterances(
    current: KbDraft, tmp_path: Path
) -> None:
    candidate = create_entry(current, TV, author="Иванова")
    said = RecentUtterance("хочу смотреть телевидение", "escalate", None, call_id="c1")
    same = RecentUtterance("как узнать баланс", "answer", "balance-check", call_id="c2")
    result = replay(
        current,
        candidate,
        HashingEmbedder(),
        IdentityLemmatizer(),
        CASES,
        [said, same],
        cache_dir=tmp_path / "cache",
    )

    assert (result.before.in_scope, result.before.out_of_scope) == (3, 1)
    assert result.before.answered_correct == 2  # balance and internet, not TV
    assert result.after.answered_correct == 3
    assert result.accuracy_change == pytest.approx(round(3 / 3 - 2 / 3, 4), abs=1e-4)
    assert result.oos_answer_change == 0.0
    by_text = {c.text: c for c in result.changed}
    assert set(by_text) == {"как подключить телевидение", "хочу смотреть телевидение"}
    case = by_text["как подключить телевидение"]
    assert case.source == "eval" and case.verdict == "better"
    assert case.before.kind != "answer"
    assert (case.after.kind, case.after.entry_id) == ("answer", "tv-connect")
    utterance = by_text["хочу смотреть телевидение"]
    assert utterance.source == "utterance" and utterance.then == said
    assert (utterance.after.kind, utterance.after.entry_id) == ("answer", "tv-connect")
    assert (result.utterances, result.answered_before, result.answered_after) == (2, 1, 2)


def test_deleting_an_entry_shows_as_worse(current: KbDraft, tmp_path: Path) -> None:
    candidate = delete_entry(
        current, "balance-check", based_on=current.revision("balance-check"), author="Петров"
    )
    result = replay(
        current, candidate, HashingEmbedder(), IdentityLemmatizer(), CASES, (), cache_dir=tmp_path
    )
    assert result.accuracy_change < 0
    worse = [c for c in result.changed if c.verdict == "worse"]
    assert [c.text for c in worse] == ["как узнать баланс"]
    assert worse[0].before.entry_id == "balance-check"


def test_a_directory_replayed_against_itself_changes_nothing(
    write_kb: WriteKb, tmp_path: Path
) -> None:
    root = write_kb(SMALL_FAQ)
    result = replay(
        root,
        load_draft(root),
        HashingEmbedder(),
        IdentityLemmatizer(),
        CASES,
        [RecentUtterance("пропал интернет", "answer", "internet-down")],
        cache_dir=tmp_path,
    )
    assert result.before == replace(result.after, p95_ms=result.before.p95_ms)
    assert result.changed == ()


def test_eval_cases_come_from_the_drafts_files() -> None:
    lines: list[dict[str, object]] = [
        {"text": "баланс", "expected": "balance-check"},
        {"text": "погода", "expected": None, "accept": []},
        {"text": "тв", "expected": "tv", "accept": ["tv-connect"]},
    ]
    files = {
        "eval/cases.jsonl": "\n".join(json.dumps(line, ensure_ascii=False) for line in lines),
        "faq/a.yaml": "- id: x\n",
    }
    cases = eval_cases_in(files)
    assert [(c.text, c.correct, c.line) for c in cases] == [
        ("баланс", frozenset({"balance-check"}), 1),
        ("погода", frozenset(), 2),
        ("тв", frozenset({"tv", "tv-connect"}), 3),
    ]
    with pytest.raises(KnowledgeBaseError) as caught:
        eval_cases_in({"eval/x.jsonl": '{"text": 1}\n{"expected": "a"}'})
    assert [p.split(":")[:2] for p in caught.value.problems] == [
        ["eval/x.jsonl", "1"],
        ["eval/x.jsonl", "2"],
    ]


def test_caller_turns_become_utterances() -> None:
    at = datetime(2026, 11, 24, tzinfo=UTC)

    def turn(role: str, text: str, decision: str | None) -> TurnRecord:
        return TurnRecord(
            1,
            "c1",
            1,
            role,
            text,
            None,
            at,
            None,
            "x",
            decision,
            None,
            None,
            None,
            ("а",),
            None,
            False,
        )

    turns = [
        turn("caller", "баланс", "answer"),
        turn("bot", "ответ", None),
        turn("caller", " ", "escalate"),
    ]
    assert utterances_from_turns(turns) == [
        RecentUtterance("баланс", "answer", "x", ("а",), "c1", at)
    ]
