"""Test speech for speech-engine tests: espeak-ng clips as PCM16, WAV reading, error rates.

`espeak_wav(text, voice, rate)` synthesises `text` with the Debian `espeak-ng` binary and returns
mono PCM16 little-endian at `rate` Hz (resampled with soxr). Clips are cached as WAV files under
`$VOICEBOT_TEST_CACHE_DIR/speech` (default `.cache/voicebot/speech`, git-ignored), keyed by the
text, voice, speed, rate and the espeak-ng version, so a new espeak-ng never serves stale audio.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from voicebot.audio import read_wav, resample, write_wav

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE_DIR = (
    Path(os.environ.get("VOICEBOT_TEST_CACHE_DIR", str(REPO / ".cache" / "voicebot"))) / "speech"
)


def have_espeak() -> bool:
    """True if the espeak-ng binary is on PATH."""
    return shutil.which("espeak-ng") is not None


@functools.cache
def espeak_version() -> str:
    """The installed espeak-ng's version line (part of the cache key)."""
    done = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def espeak_wav(
    text: str, voice: str, rate: int, *, speed: int = 175, cache_dir: Path | None = None
) -> bytes:
    """`text` spoken by espeak-ng `voice` at `speed` words/min: PCM16 mono at `rate` Hz."""
    folder = cache_dir or DEFAULT_CACHE_DIR
    key = "\0".join([espeak_version(), voice, str(speed), str(rate), text])
    cached = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.wav"
    if cached.is_file():
        return read_wav(cached)[0]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        pcm, native = read_wav(raw)
        pcm = resample(pcm, native, rate)
        staged = Path(tmp) / "out.wav"
        write_wav(staged, pcm, rate)
        os.replace(staged, cached)  # atomic: parallel test runs never see half a file
    return pcm


def frames(pcm: bytes, rate: int, ms: int = 20) -> list[bytes]:
    """PCM16 cut into `ms` chunks (the last one may be shorter)."""
    size = rate * ms // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


def cer(ref: str, hyp: str) -> float:
    """Character error rate, spaces ignored (word segmentation is not counted)."""
    r, h = ref.replace(" ", ""), hyp.replace(" ", "")
    return edit_distance(r, h) / max(1, len(r))


def wer(ref: str, hyp: str) -> float:
    """Word error rate over whitespace-separated words."""
    r, h = ref.split(), hyp.split()
    return edit_distance(r, h) / max(1, len(r))
