"""Escalation: the summary card an operator reads before saying hello."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voicebot.events import Escalation, Turn
from voicebot.knowledge import KnowledgeBase

REASON_TITLES = {
    "caller_request": "клиент попросил соединить с оператором",
    "entry_requires_operator": "вопрос требует участия специалиста",
    "not_understood": "бот не понял вопрос",
    "internal_error": "техническая ошибка бота",
    "time_limit": "разговор с ботом длится слишком долго",
}

_PHONE = re.compile(r"(?<!\d)(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
_ACCOUNT = re.compile(
    r"(?:договор\w*|лицев\w* сч[её]т\w*|сч[её]т\w*|номер\w*)\D{0,12}?(\d[\d\s-]{4,14}\d)",
    re.IGNORECASE,
)
_AMOUNT = re.compile(r"(\d[\d\s]*(?:[.,]\d+)?)\s*(?:руб\w*|₽|р\.)", re.IGNORECASE)


@dataclass(frozen=True)
class Entities:
    """Things an operator would otherwise ask for again."""

    phones: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()


def find_entities(texts: Sequence[str]) -> Entities:
    """Phone numbers, contract/account numbers and sums of money mentioned in `texts`."""
    joined = "\n".join(texts)
    phones = [re.sub(r"\D", "", m.group(0)) for m in _PHONE.finditer(joined)]
    accounts = [re.sub(r"\D", "", m.group(1)) for m in _ACCOUNT.finditer(joined)]
    amounts = [re.sub(r"\s", "", m.group(1)) for m in _AMOUNT.finditer(joined)]
    accounts = [a for a in accounts if a not in phones and a not in amounts]
    return Entities(
        tuple(dict.fromkeys(phones)), tuple(dict.fromkeys(accounts)), tuple(dict.fromkeys(amounts))
    )


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
        titles = [kb.entry(entry_id).spoken_title for entry_id in dict.fromkeys(answered)]
        lines.append("Бот уже ответил: " + "; ".join(titles))
    entities = find_entities(caller_words)
    found = [
        *(f"телефон {p}" for p in entities.phones),
        *(f"номер договора/счёта {a}" for a in entities.accounts),
        *(f"сумма {a} руб." for a in entities.amounts),
    ]
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
