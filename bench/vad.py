"""VAD and G.711 benchmark: CPU time per 20 ms of call audio, and what one core can carry.

Run from the repository root:  .venv/bin/python bench/vad.py [--seconds 60] [--repeats 3]

Audio is fed in 20 ms frames exactly as a call feeds it. CPU time is process time (user +
system) of this single thread, the best of `--repeats` runs, so other load on the machine
inflates it less than wall time. "Calls per core" is 20 ms divided by the CPU time one call's
20 ms frame costs: the number of simultaneous calls whose VAD (or codec) one core could run,
with nothing else to do.
"""

from __future__ import annotations

import argparse
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voicebot.audio import Codec, decode, encode, resample
from voicebot.engines.silero import SileroSpeechDetector, SileroVadModel

FRAME_MS = 20
RECORDING = Path("/usr/share/asterisk/sounds/ru/demo-congrats.wav")  # 31 s of Russian speech


def source_audio(seconds: float) -> tuple[bytes, str]:
    """`seconds` of 8 kHz PCM16: a real Russian telephone recording looped, else noise bursts."""
    rate = 8000
    if RECORDING.exists():
        with wave.open(str(RECORDING)) as wav:
            clip, label = wav.readframes(wav.getnframes()), RECORDING.name
    else:
        rng = np.random.default_rng(1)
        clip = (rng.normal(0, 3000, rate * 2) * np.repeat([1, 0], rate)).astype("<i2").tobytes()
        label = "synthetic noise bursts"
    needed = int(seconds * rate) * 2
    return (clip * (needed // len(clip) + 1))[:needed], label


def frames(pcm: bytes, frame_bytes: int) -> list[bytes]:
    """Whole 20 ms frames."""
    return [pcm[i : i + frame_bytes] for i in range(0, len(pcm) - frame_bytes + 1, frame_bytes)]


def best_cpu_seconds(run: Callable[[], object], repeats: int) -> float:
    """The smallest process CPU time of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def vad_row(model: SileroVadModel, pcm8k: bytes, rate: int, repeats: int) -> tuple[str, float, int]:
    """(label, CPU ms per 20 ms frame, frames) for silero at `rate`."""
    pcm = resample(pcm8k, 8000, rate)
    chunks = frames(pcm, rate * FRAME_MS // 1000 * 2)

    def run() -> None:
        detector = SileroSpeechDetector(model, rate)
        for chunk in chunks:
            detector.feed(chunk)

    cpu = best_cpu_seconds(run, repeats)
    note = "" if rate in (8000, 16000) else " (resampled to 16 kHz)"
    return f"silero-vad {rate // 1000} kHz{note}", cpu / len(chunks) * 1000, len(chunks)


def codec_row(
    codec: Codec, direction: str, whole: bytes, parts: list[bytes], repeats: int
) -> tuple[str, float, float]:
    """(label, CPU microseconds per 20 ms frame, bulk MB of PCM16 per CPU second)."""
    convert = decode if direction == "decode" else encode

    def framed() -> None:
        for part in parts:
            convert(part, codec)

    per_frame = best_cpu_seconds(framed, repeats) / len(parts) * 1e6
    bulk_s = best_cpu_seconds(lambda: convert(whole, codec), repeats * 3)
    pcm_bytes = len(whole) * (2 if direction == "decode" else 1)
    return f"G.711 {codec} {direction}", per_frame, pcm_bytes / 1e6 / max(bulk_s, 1e-9)


def codec_rows(pcm8k: bytes, repeats: int) -> list[tuple[str, float, float]]:
    """Decode and encode rows for A-law and mu-law at 8 kHz."""
    codecs: tuple[Codec, ...] = ("alaw", "ulaw")
    rows = []
    for codec in codecs:
        wire = encode(pcm8k, codec)
        rows.append(codec_row(codec, "decode", wire, frames(wire, 160), repeats))
        rows.append(codec_row(codec, "encode", pcm8k, frames(pcm8k, 320), repeats))
    return rows


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (best is kept)")
    args = parser.parse_args()

    pcm8k, label = source_audio(args.seconds)
    started = time.perf_counter()
    model = SileroVadModel()
    load_s = time.perf_counter() - started
    print(f"audio: {args.seconds:.0f} s of {label}, fed in {FRAME_MS} ms frames")
    print(f"silero-vad model load: {load_s * 1000:.0f} ms ({model.path.name}, 1 thread)\n")

    print(f"{'part':<40} {'CPU / 20 ms':>12} {'core/call':>10} {'calls/core':>11}")
    for rate in (8000, 16000, 48000):
        name, ms, _count = vad_row(model, pcm8k, rate, args.repeats)
        print(f"{name:<40} {ms:>9.3f} ms {ms / FRAME_MS:>10.2%} {FRAME_MS / ms:>11.0f}")
    for name, us, mb_per_s in codec_rows(pcm8k, args.repeats):
        print(
            f"{name:<40} {us:>9.1f} us {us / FRAME_MS / 1000:>10.3%} "
            f"{FRAME_MS * 1000 / us:>11.0f}   bulk {mb_per_s:,.0f} MB PCM16/s"
        )
    print(
        "\ncalls/core = 20 ms / CPU per 20 ms frame for that part alone (VAD windows are 32 ms:"
        " a 20 ms frame costs 0.625 windows on average)."
    )


if __name__ == "__main__":
    main()
