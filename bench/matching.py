"""Matching benchmark: quality (lexical / semantic / hybrid) on two knowledge bases, speed, start-up, RSS.

Run from the repository root:  .venv/bin/python bench/matching.py [--skip-large]

Quality is reported twice: with thresholds fitted on all cases, and by 5-fold cross-validation
(thresholds fitted on 4/5, measured on the other 1/5), the honest figure for a new question.
The second knowledge base is a spreadsheet FAQ of another domain (one formal question and a
long answer per entry, questions typed by users with greetings, typos and links), imported
with `voicebot kb import`, which nobody tuned the matcher on.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from voicebot.composition import build_embedder, build_matcher
from voicebot.config import Settings
from voicebot.evaluation import CalibrationTargets, calibrate, load_eval_cases, report, score_cases
from voicebot.kb_import import import_spreadsheet
from voicebot.knowledge import FaqEntry, KnowledgeBase, load_knowledge_base
from voicebot.matcher import FusionSettings, Matcher, decide

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """Peak resident memory of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def quality(settings: Settings, kb: KnowledgeBase, cases_path: Path, label: str) -> None:
    """Print top-1 and calibrated accuracy per scoring mode."""
    cases = load_eval_cases(cases_path, kb)
    embedder = build_embedder(settings)
    print(
        f"\n## {label}: {len(kb.entries)} entries, {len(cases)} cases "
        f"({sum(1 for c in cases if c.expected is None)} out of scope)"
    )
    print(
        f"{'mode':<9} {'top1':>6} | {'fit: acc':>8} {'wrong':>6} {'oos':>6} | "
        f"{'5-fold: acc':>11} {'wrong':>6} {'oos':>6} | thresholds"
    )
    for mode in ("lexical", "semantic", "hybrid"):
        matcher = build_matcher(settings, kb, embedder=embedder, fusion=FusionSettings(mode=mode))
        scored = score_cases(matcher, cases)
        result = calibrate(scored, CalibrationTargets())
        fit, cv, t = result.report, result.cross_validated, result.thresholds
        assert cv is not None
        print(
            f"{mode:<9} {fit.top1:6.3f} | {fit.accuracy:8.3f} {fit.wrong_answer_rate:6.3f} "
            f"{fit.oos_answer_rate:6.3f} | {cv.accuracy:11.3f} {cv.wrong_answer_rate:6.3f} "
            f"{cv.oos_answer_rate:6.3f} | answer={t.answer} margin={t.margin} clarify={t.clarify}"
        )
    shipped = report(
        score_cases(build_matcher(settings, kb, embedder=embedder), cases), kb.config.thresholds
    )
    print(f"with the knowledge base's own thresholds: {shipped.to_json()}")


def synthetic_kb(base: KnowledgeBase, size: int, seed: int = 3) -> KnowledgeBase:
    """`size` entries of 6 paraphrases each, recombined from the base's words (for speed only)."""
    rng = random.Random(seed)
    words = sorted({w for e in base.entries for q in e.questions for w in q.split()})
    entries = []
    for index in range(size):
        core = rng.sample(words, 4)
        questions = tuple(" ".join(core[:3] + rng.sample(words, 3)) for _ in range(6))
        entries.append(
            FaqEntry(
                id=f"e{index}",
                topic="general",
                questions=questions,
                answer=" ".join(rng.sample(words, 25)),
            )
        )
    return replace(base, entries=tuple(entries), root=None)


def speed(settings: Settings, kb: KnowledgeBase, queries: list[str], label: str) -> Matcher:
    """Build a matcher (warm caches) and time rank+decide per query."""
    started = time.perf_counter()
    matcher = build_matcher(settings, kb)
    build_s = time.perf_counter() - started
    timings = []
    for text in queries:
        t0 = time.perf_counter()
        decide(matcher.rank(text).candidates, matcher.thresholds)
        timings.append((time.perf_counter() - t0) * 1000)
    print(
        f"{label:<28} entries {len(kb.entries):>5}  paraphrases {matcher.paraphrase_count:>6}  "
        f"build {build_s:6.2f} s  p50 {statistics.median(timings):6.1f} ms  "
        f"p95 {percentile(timings, 0.95):6.1f} ms  peak RSS {rss_mb():6.0f} MiB"
    )
    return matcher


def main() -> None:
    """Run every part and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-large", action="store_true", help="Skip the 2,000-entry KB.")
    args = parser.parse_args()
    settings = Settings(models_dir=ROOT / "models", cache_dir=ROOT / ".cache" / "voicebot")
    print(f"python {sys.version.split()[0]}; cores used by torch: default")

    started = time.perf_counter()
    kb = load_knowledge_base(ROOT / "knowledge_base")
    embedder = build_embedder(settings)
    matcher = build_matcher(settings, kb, embedder=embedder)
    print(
        f"start-up (load KB, model, warm caches, train/load classifier): "
        f"{time.perf_counter() - started:.2f} s, peak RSS {rss_mb():.0f} MiB"
    )
    del matcher

    quality(
        settings, kb, ROOT / "knowledge_base" / "eval" / "cases.jsonl", "default knowledge base"
    )
    with tempfile.TemporaryDirectory() as tmp:
        shop_dir = Path(tmp) / "shop"
        import_spreadsheet(ROOT / "bench" / "data" / "shop_faq.csv", shop_dir)
        quality(
            settings,
            load_knowledge_base(shop_dir),
            ROOT / "bench" / "data" / "shop_queries.jsonl",
            "imported spreadsheet FAQ (one question per entry, held out)",
        )

    print("\n## speed (rank + decide per query, this machine)")
    queries = [
        c.text for c in load_eval_cases(ROOT / "knowledge_base" / "eval" / "cases.jsonl", kb)
    ]
    speed(settings, kb, queries, "default knowledge base")
    if not args.skip_large:
        speed(settings, synthetic_kb(kb, 2000), queries, "synthetic knowledge base")


if __name__ == "__main__":
    main()
