"""Escalation: the summary card an operator reads before saying hello, and the queue priority.

Priority (`queue_priority`) = the topic's priority from bot.yaml (`Topic.priority`) plus
  +3 PRIORITY_VIP            the caller's number is on the customer list (`load_vip_numbers`);
  +2 PRIORITY_URGENT_TOPIC   an urgent topic, or signs of a complaint or anger (counted once);
  +1 PRIORITY_REPEAT_CALLER  the caller's previous call in the window was not resolved.
Entries are served by priority, then first come first served (voicebot/queue.py). On a topic of
priority 0: VIP (3) > angry or urgent (2) > repeat (1) > plain (0); the `complaints` topic is
itself a complaint sign, so in the default bot.yaml (priority 2) it gets 2 + 2 = 4.

A past call is resolved when the bot resolved it (`resolved_by_bot`) or an operator closed it
(`escalated`, `callback_requested`) with a result in RESOLVED_RESULTS; every other ended call is
unresolved: not closed as resolved (yet), after hours, abandoned in the queue, hung up
unanswered, silent, too long, broken. Calls still in progress are ignored.

PII masking of the card (`mask_pii`): `none` shows everything; `partial` masks phone and account
numbers in the caller's words (+7 916 ***-**-67, ****3456) and shows the entities in full, since
the operator needs them to find the customer; `full` replaces those numbers in the words by
«[телефон]»/«[номер]» and shows the entities partially masked. The caller's own number (the
caller ID, which the operator calls back) is always shown.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from voicebot.entities import (
    MASK_MODES,
    MaskMode,
    complaint_signs,
    entity_lines,
    format_phone,
    normalize_phone,
    shown_entities,
    shown_words,
)
from voicebot.entities import Entities as Entities  # re-exported: it lived here first
from voicebot.entities import find_entities as find_entities
from voicebot.errors import VoicebotError
from voicebot.events import Escalation, Turn
from voicebot.knowledge import KnowledgeBase
from voicebot.queue import PRIORITY_REPEAT_CALLER, PRIORITY_URGENT_TOPIC, PRIORITY_VIP

if TYPE_CHECKING:  # the store (SQLAlchemy) stays out of the core at run time
    from voicebot.store.calls import CallRecord

REASON_TITLES = {
    "caller_request": "клиент попросил соединить с оператором",
    "entry_requires_operator": "вопрос требует участия специалиста",
    "not_understood": "бот не понял вопрос",
    "internal_error": "техническая ошибка бота",
    "time_limit": "разговор с ботом длится слишком долго",
}
# voicebot.store.calls.OUTCOMES, as the operator reads them.
OUTCOME_TITLES = {
    "resolved_by_bot": "решён ботом",
    "escalated": "передан оператору",
    "callback_requested": "заказан обратный звонок",
    "after_hours": "звонок в нерабочее время",
    "abandoned": "не дождался оператора",
    "caller_hung_up": "клиент положил трубку",
    "no_input": "клиент молчал",
    "max_duration": "слишком долгий разговор",
    "protocol_error": "сбой связи",
    "failed": "сбой бота",
}
PRIORITY_TITLES = {
    PRIORITY_VIP: "VIP-клиент",
    PRIORITY_URGENT_TOPIC: "срочная тема или недовольство клиента",
    PRIORITY_REPEAT_CALLER: "повторный звонок по нерешённому вопросу",
}
# Operator closing results that mean "resolved" (the console's vocabulary), and the outcomes
# an operator closes later (the transfer, the callback).
RESOLVED_RESULTS = frozenset({"resolved"})
OPERATOR_OUTCOMES = frozenset({"escalated", "callback_requested"})
COMPLAINT_TOPICS = frozenset({"complaints"})
COMPLAINT_REASONS = frozenset({"complaint"})
VIP_COLUMNS = frozenset({"phone", "телефон", "номер телефона"})
_VIP_CELL = re.compile(r"\+?[\d\s().-]+")


@dataclass(frozen=True)
class PriorityWeights:
    """What each priority reason adds to the topic's priority."""

    vip: int = 3
    urgent: int = 2
    repeat: int = 1


DEFAULT_WEIGHTS = PriorityWeights()


@dataclass(frozen=True)
class PastCall:
    """An earlier call from the same number, as the card and the priority need it."""

    started_at: datetime
    outcome: str | None  # voicebot.store.calls.OUTCOMES; None while in progress
    topic: str | None
    summary_line: str
    operator_result: str | None = None  # the operator's closing result, when one closed it


class VipListError(VoicebotError):
    """The customer list cannot be read; `problems` names each bad line."""

    code = "vip_list_invalid"

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__("\n".join([message, *problems]))
        self.problems = list(problems)


# --- history and priority ------------------------------------------------------------------


def past_calls(
    records: Iterable[CallRecord],
    *,
    exclude_call_id: str | None = None,
    operator_results: Mapping[str, str] | None = None,
) -> tuple[PastCall, ...]:
    """PastCall records from stored calls (CallStore.calls_from), minus the current call;
    `operator_results` maps call ids to the operator's closing result where known."""
    results = operator_results or {}
    return tuple(
        PastCall(
            started_at=r.started_at,
            outcome=r.outcome,
            topic=r.escalation_topic,
            summary_line=_summary_line(r.summary or ""),
            operator_result=results.get(r.call_id),
        )
        for r in records
        if r.call_id != exclude_call_id
    )


def _summary_line(summary: str) -> str:
    lines = summary.splitlines()
    said = [line for line in lines if line.startswith("Клиент сказал:")]
    return shorten((said or lines or [""])[0], 160)


def is_resolved(call: PastCall, resolved_results: frozenset[str] = RESOLVED_RESULTS) -> bool:
    """Resolved by the bot, or transferred / called back and closed with a resolved result."""
    return call.outcome == "resolved_by_bot" or (
        call.outcome in OPERATOR_OUTCOMES and call.operator_result in resolved_results
    )


def recent_calls(
    history: Sequence[PastCall], now: datetime | None, window_days: int
) -> list[PastCall]:
    """Ended calls of the last `window_days` before `now` (every ended one if `now` is None,
    for a history already queried with that window), newest first."""

    def in_window(call: PastCall) -> bool:
        return now is None or now - timedelta(days=window_days) <= call.started_at <= now

    ended = [c for c in history if c.outcome is not None and in_window(c)]
    return sorted(ended, key=lambda c: c.started_at, reverse=True)


def complaint_evidence(
    kb: KnowledgeBase, topic: str | None, reason: str, caller_words: Sequence[str]
) -> tuple[str, ...]:
    """Why this looks like a complaint or anger: the topic, the reason, the caller's words."""
    evidence = [f"тема «{kb.topic(topic).title}»"] if topic in COMPLAINT_TOPICS else []
    if reason in COMPLAINT_REASONS:
        evidence.append(f"причина «{REASON_TITLES.get(reason, reason)}»")
    return (*evidence, *(f"«{sign}»" for sign in complaint_signs(caller_words)))


def queue_priority(
    kb: KnowledgeBase,
    topic: str | None,
    reason: str,
    caller: str,
    *,
    vip_numbers: frozenset[str],
    history: Sequence[PastCall],
    repeat_window_days: int = 7,
    now: datetime | None = None,
    caller_words: Sequence[str] = (),
    urgent_topics: frozenset[str] = frozenset(),
    weights: PriorityWeights = DEFAULT_WEIGHTS,
    resolved_results: frozenset[str] = RESOLVED_RESULTS,
) -> tuple[int, tuple[str, ...]]:
    """The entry's priority and the reasons it got it (see the module docstring for the rules).

    `vip_numbers` are normalised (load_vip_numbers, normalize_phone); `history` holds earlier
    calls from this number, `now` bounds their window (None: taken as already bounded)."""
    priority = kb.topic(topic).priority if topic else 0
    reasons: list[str] = []
    if normalize_phone(caller) in vip_numbers:
        priority += weights.vip
        reasons.append(PRIORITY_VIP)
    if topic in urgent_topics or complaint_evidence(kb, topic, reason, caller_words):
        priority += weights.urgent
        reasons.append(PRIORITY_URGENT_TOPIC)
    recent = recent_calls(history, now, repeat_window_days)
    if recent and not is_resolved(recent[0], resolved_results):
        priority += weights.repeat
        reasons.append(PRIORITY_REPEAT_CALLER)
    return priority, tuple(reasons)


def load_vip_numbers(path: Path) -> frozenset[str]:
    """Normalised numbers from a customer list: a CSV (`,` `;` or tab) with a column named
    phone/телефон, or one number per line; `#` lines and empty lines are skipped. Raises
    VipListError listing every bad line by number."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise VipListError(f"список VIP-клиентов {path} не найден") from exc
    except UnicodeDecodeError as exc:
        raise VipListError(
            f"список VIP-клиентов {path} не в кодировке UTF-8: сохраните его как «CSV UTF-8»"
        ) from exc
    except OSError as exc:
        raise VipListError(f"список VIP-клиентов {path} не читается: {exc}") from exc
    # csv.Sniffer guesses letters or digits as delimiters on one-column files: pick among
    # the usual ones by the first line instead.
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = next((d for d in ";\t," if d in first), ",")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    numbers: set[str] = set()
    problems: list[str] = []
    column: int | None = None
    header_seen = False
    for row in reader:
        line = reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            names = [cell.lower() for cell in cells]
            found = [i for i, name in enumerate(names) if name in VIP_COLUMNS]
            if found:
                column = found[0]
                continue
            if len(cells) > 1:
                raise VipListError(
                    f"список VIP-клиентов {path}: строка {line}: несколько столбцов, но нет "
                    "заголовка phone или телефон (нужен столбец с таким названием или один "
                    "номер в строке)"
                )
        cell = cells[column or 0] if len(cells) > (column or 0) else ""
        number = _vip_number(cell)
        if number is None:
            shown = f"«{cell}»" if cell else "пустой номер"
            problems.append(f"строка {line}: {shown} — не номер телефона (нужно 10–15 цифр)")
        else:
            numbers.add(number)
    if problems:
        raise VipListError(f"список VIP-клиентов {path}: ошибок {len(problems)}", problems)
    return frozenset(numbers)


def _vip_number(cell: str) -> str | None:
    if not _VIP_CELL.fullmatch(cell) or not 10 <= sum(c.isdigit() for c in cell) <= 15:
        return None
    return normalize_phone(cell)


# --- the summary and the card ----------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with «…» when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut:  # do not end in the middle of a word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def _titles(kb: KnowledgeBase, answered: Sequence[str]) -> list[tuple[str, str]]:
    titles = []
    for entry_id in dict.fromkeys(answered):
        try:
            titles.append((entry_id, kb.entry(entry_id).spoken_title))
        except KeyError:  # the knowledge base changed since the bot answered
            titles.append((entry_id, entry_id))
    return titles


def build_summary(
    kb: KnowledgeBase,
    reason: str,
    topic: str | None,
    turns: Sequence[Turn],
    answered: Sequence[str],
) -> str:
    """A short Russian card: topic, reason, the caller's words, what the bot answered, entities."""
    caller_words = [t.text for t in turns if t.role == "caller"]
    lines = [
        f"Тема: {kb.topic(topic).title if topic else 'не определена'}",
        f"Причина: {REASON_TITLES.get(reason, reason)}",
    ]
    if caller_words:
        lines.append("Клиент сказал: " + "; ".join(f"«{w}»" for w in caller_words[-5:]))
    if answered:
        lines.append("Бот уже ответил: " + "; ".join(t for _, t in _titles(kb, answered)))
    found = entity_lines(shown_entities(find_entities(caller_words), "none", formatted=False))
    if found:
        lines.append("Найдено: " + ", ".join(found))
    return "\n".join(lines)


def build_escalation(
    kb: KnowledgeBase,
    call_id: str,
    reason: str,
    topic: str | None,
    turns: Sequence[Turn],
    answered: Sequence[str],
) -> Escalation:
    """The escalation record with its summary and queue priority (the topic's priority)."""
    priority = kb.topic(topic).priority if topic else 0
    return Escalation(
        call_id=call_id,
        reason=reason,
        topic=topic or "general",
        priority=priority,
        summary=build_summary(kb, reason, topic, turns, answered),
        turns=tuple(turns),
    )


def build_card(
    kb: KnowledgeBase,
    *,
    reason: str,
    topic: str | None,
    turns: Sequence[Turn],
    answered: Sequence[str],
    caller: str,
    history: Sequence[PastCall],
    now: datetime,
    vip_numbers: frozenset[str] = frozenset(),
    mask_pii: bool | MaskMode = "none",
    repeat_window_days: int = 7,
    urgent_topics: frozenset[str] = frozenset(),
    weights: PriorityWeights = DEFAULT_WEIGHTS,
    resolved_results: frozenset[str] = RESOLVED_RESULTS,
    words_limit: int = 5,
    chars_limit: int = 160,
) -> dict[str, object]:
    """The operator's card, JSON-ready (English keys, Russian text): topic, reason, the caller's
    last words (masked per `mask_pii`; True means "partial"), the bot's answers, entities, signs
    of a complaint, this number's recent calls, the priority with its reasons and a summary."""
    mode: MaskMode = "partial" if mask_pii is True else "none" if mask_pii is False else mask_pii
    if mode not in MASK_MODES:
        raise ValueError(f"mask_pii must be one of {', '.join(MASK_MODES)}, got {mode!r}")
    said = [t.text for t in turns if t.role == "caller" and not t.text.startswith("[DTMF")]
    words = [shorten(shown_words(w, mode), chars_limit) for w in said[-words_limit:] if w.strip()]
    topic_title = kb.topic(topic).title if topic else "не определена"
    answers = _titles(kb, answered)
    entities = shown_entities(find_entities(said), mode)
    evidence = complaint_evidence(kb, topic, reason, said)
    recent = recent_calls(history, now, repeat_window_days)
    unresolved = bool(recent) and not is_resolved(recent[0], resolved_results)
    topics = list(dict.fromkeys(kb.topic(c.topic).title for c in recent if c.topic))
    priority, reasons = queue_priority(
        kb, topic, reason, caller, vip_numbers=vip_numbers, history=history,
        repeat_window_days=repeat_window_days, now=now, caller_words=said,
        urgent_topics=urgent_topics, weights=weights, resolved_results=resolved_results,
    )  # fmt: skip
    titles = [PRIORITY_TITLES[r] for r in reasons]
    summary = [f"Тема: {topic_title}.", f"Причина: {REASON_TITLES.get(reason, reason)}."]
    if PRIORITY_VIP in reasons:
        summary.append("VIP-клиент.")
    if words:
        summary.append("Клиент сказал: " + "; ".join(f"«{w}»" for w in words) + ".")
    if answers:
        summary.append("Бот уже ответил: " + "; ".join(t for _, t in answers) + ".")
    if found := entity_lines(entities):
        summary.append("Найдено: " + "; ".join(found) + ".")
    if evidence:
        summary.append("Признаки недовольства: " + ", ".join(evidence) + ".")
    if recent:
        summary.append(
            f"Звонков с этого номера за {_count(repeat_window_days, 'день', 'дня', 'дней')}: "
            f"{len(recent)}"
            + (f" ({', '.join(topics)})" if topics else "")
            + f", последний {'не решён' if unresolved else 'решён'}."
        )
    summary.append(f"Приоритет {priority}" + (": " + ", ".join(titles) if titles else "") + ".")
    return {
        "version": 1,
        "caller": caller,
        "caller_display": format_phone(caller),
        "vip": PRIORITY_VIP in reasons,
        "topic": {"id": topic or "general", "title": topic_title},
        "reason": {"code": reason, "text": REASON_TITLES.get(reason, reason)},
        "words": words,
        "answered": [{"id": i, "title": t} for i, t in answers],
        "entities": entities,
        "complaint": {"detected": bool(evidence), "evidence": list(evidence)},
        "history": {
            "window_days": repeat_window_days,
            "calls": len(recent),
            "topics": topics,
            "last_unresolved": unresolved,
            "recent": [_past_call_view(kb, c, resolved_results) for c in recent[:5]],
        },
        "priority": {"value": priority, "reasons": list(reasons), "titles": titles},
        "masking": mode,
        "summary": " ".join(summary),
    }


def _count(n: int, one: str, few: str, many: str) -> str:
    """«1 день», «3 дня», «7 дней»."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} {one}"
    return f"{n} {few if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else many}"


def _past_call_view(
    kb: KnowledgeBase, call: PastCall, resolved_results: frozenset[str]
) -> dict[str, object]:
    outcome = OUTCOME_TITLES.get(call.outcome or "", call.outcome or "")
    return {
        "started_at": call.started_at.isoformat(),
        "outcome": call.outcome,
        "outcome_text": f"{outcome}: {call.operator_result}" if call.operator_result else outcome,
        "resolved": is_resolved(call, resolved_results),
        "topic": call.topic,
        "topic_title": kb.topic(call.topic).title if call.topic else "не определена",
        "summary_line": call.summary_line,
    }
