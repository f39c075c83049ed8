"""Checks that need the matcher: a paraphrase that sits closer to another entry than to its own."""

from __future__ import annotations

from voicebot.knowledge import Problem
from voicebot.matcher import Matcher


def confusable_questions(matcher: Matcher, tolerance: float = 0.0) -> list[Problem]:
    """Warn for each paraphrase that, left out, ranks another entry above its own."""
    problems: list[Problem] = []
    entries = {e.id: e for e in matcher.kb.entries}
    paraphrase_index = 0
    for entry in matcher.kb.entries:
        for question in entry.questions:
            ranked = matcher.rank_paraphrase_left_out(paraphrase_index, top=len(entries))
            paraphrase_index += 1
            if len(entry.questions) < 2 or not ranked:
                continue
            own = next((c for c in ranked if c.entry_id == entry.id), None)
            best = ranked[0]
            if best.entry_id != entry.id and (own is None or best.score > own.score + tolerance):
                own_score = own.score if own else 0.0
                problems.append(
                    Problem(
                        "warning",
                        entry.source,
                        entry.line,
                        f"запись «{entry.id}»: вопрос «{question}» ближе к записи «{best.entry_id}» "
                        f"({best.score:.2f}), чем к своей ({own_score:.2f})",
                    )
                )
    return problems
