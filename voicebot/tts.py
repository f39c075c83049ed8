"""Speech output: the Synthesizer protocol, a disk cache of synthesised phrases, and SpeechOutput.

`SpeechOutput` normalises a text for speech (`voicebot.speakable`), synthesises it sentence by
sentence, keeps the voice-rate PCM in a `PhraseCache` on disk (so restarts and other processes
reuse it) and the call-rate PCM in a small in-memory LRU. A phrase's audio is the same whether it
was made by `audio()` (whole) or `chunks()` (streamed): both concatenate the sentences.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import tempfile
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from voicebot.audio import Resampler, resample
from voicebot.speakable import speakable, split_sentences

log = logging.getLogger("voicebot.tts")


class Synthesizer(Protocol):
    """A loaded voice (one per process); `synthesize` is synchronous and thread-safe enough to
    be called from one worker thread at a time."""

    @property
    def voice_id(self) -> str:
        """Identifies the voice and its settings: part of every phrase-cache key."""
        ...

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM16 this voice produces."""
        ...

    def synthesize(self, text: str) -> bytes:
        """Mono PCM16 at `sample_rate` for already-normalised text."""
        ...


# A cache file: header (magic, format version, sample rate, crc32 and length of the PCM), then PCM.
_HEADER = struct.Struct("<4sHIIQ")
_MAGIC = b"VBPC"
_VERSION = 1


def _canonical(text: str) -> str:
    """The text as a cache key sees it: whitespace collapsed."""
    return " ".join(text.split())


class PhraseCache:
    """Synthesised PCM (at the voice's rate) on disk, keyed by sha256 of (voice id, text).

    Files are written to a temporary name and renamed into place, so readers never see half a
    file; a file that fails its checks (length, crc32) is re-synthesised and replaced.
    """

    def __init__(self, cache_dir: Path, synthesizer: Synthesizer) -> None:
        """A cache in `cache_dir` (created on first write) for `synthesizer`'s voice."""
        self.cache_dir = cache_dir
        self.synthesizer = synthesizer

    def key(self, text: str) -> str:
        """The cache key of `text` for this voice (hex sha256)."""
        material = f"{self.synthesizer.voice_id}\x00{_canonical(text)}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def path(self, text: str) -> Path:
        """Where the PCM of `text` is (or would be) stored."""
        key = self.key(text)
        return self.cache_dir / key[:2] / f"{key}.pcm"

    def contains(self, text: str) -> bool:
        """Whether `text` has a cache file whose header and length are right (crc not checked)."""
        if not _canonical(text):
            return True
        path = self.path(text)
        try:
            with path.open("rb") as file:
                header = file.read(_HEADER.size)
                size = os.fstat(file.fileno()).st_size
        except OSError:
            return False
        parsed = self._parse_header(header)
        return parsed is not None and size == _HEADER.size + parsed[1]

    def load(self, text: str) -> bytes | None:
        """The cached PCM of `text`, or None (missing or corrupt: a corrupt file is removed)."""
        if not _canonical(text):
            return b""
        path = self.path(text)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        parsed = self._parse_header(data[: _HEADER.size])
        pcm = data[_HEADER.size :]
        if parsed is None or parsed[1] != len(pcm) or parsed[0] != zlib.crc32(pcm):
            log.warning("corrupt phrase-cache file %s: it will be synthesised again", path)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return pcm

    def store(self, text: str, pcm: bytes) -> None:
        """Write the PCM of `text` atomically (temporary file + rename)."""
        if not _canonical(text):
            return
        path = self.path(text)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = _HEADER.pack(
            _MAGIC, _VERSION, self.synthesizer.sample_rate, zlib.crc32(pcm), len(pcm)
        )
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(header)
                file.write(pcm)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def get(self, text: str, synthesize: Callable[[str], bytes] | None = None) -> bytes:
        """The PCM of `text`: from disk, or synthesised (by `synthesize`, default the voice)
        and stored."""
        pcm = self.load(text)
        if pcm is None:
            pcm = (synthesize or self.synthesizer.synthesize)(text)
            self.store(text, pcm)
        return pcm

    def _parse_header(self, header: bytes) -> tuple[int, int] | None:
        """(crc32, length) from a valid header for this voice's rate, else None."""
        if len(header) != _HEADER.size:
            return None
        magic, version, rate, crc, length = _HEADER.unpack(header)
        if magic != _MAGIC or version != _VERSION or rate != self.synthesizer.sample_rate:
            return None
        return int(crc), int(length)


@dataclass(frozen=True)
class PrepareReport:
    """What `SpeechOutput.prepare` did."""

    count: int  # distinct phrases
    synthesized: int  # newly synthesised (the rest came from the disk cache)
    seconds: float  # wall time
    audio_seconds: float  # total length of the phrases' audio

    def __str__(self) -> str:
        return (
            f"{self.count} phrases ({self.synthesized} synthesised, "
            f"{self.count - self.synthesized} cached), {self.audio_seconds:.0f} s of audio, "
            f"in {self.seconds:.1f} s"
        )


class SpeechOutput:
    """Text -> PCM16 at a call's rate: normalised, disk-cached, resampled, LRU-cached in memory."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        cache: PhraseCache,
        *,
        normalize: Callable[[str], str] = speakable,
        split: Callable[[str], list[str]] = split_sentences,
        memory_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        """Speech from `synthesizer` through `cache`; `memory_bytes` bounds the resampled LRU."""
        self.synthesizer = synthesizer
        self.cache = cache
        self.normalize = normalize
        self.split = split
        self.memory_bytes = memory_bytes
        self._memory: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._memory_used = 0
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        """The voice's own rate."""
        return self.synthesizer.sample_rate

    def is_cached(self, text: str) -> bool:
        """Whether the audio of `text` is in the disk cache."""
        return self.cache.contains(self.normalize(text))

    def audio(self, text: str, sample_rate: int) -> bytes:
        """The whole phrase as mono PCM16 at `sample_rate`."""
        remembered = self._recall(text, sample_rate)
        if remembered is not None:
            return remembered
        pcm = self.cache.get(self.normalize(text), self._synthesize_sentences)
        out = resample(pcm, self.synthesizer.sample_rate, sample_rate)
        self._remember(text, sample_rate, out)
        return out

    def chunks(self, text: str, sample_rate: int) -> Generator[bytes, None, None]:
        """The phrase at `sample_rate` in pieces: whole when cached, else one per sentence as it
        is synthesised (a long uncached answer starts after its first sentence)."""
        remembered = self._recall(text, sample_rate)
        if remembered is not None:
            if remembered:
                yield remembered
            return
        spoken = self.normalize(text)
        pcm = self.cache.load(spoken)
        if pcm is not None:
            out = resample(pcm, self.synthesizer.sample_rate, sample_rate)
            self._remember(text, sample_rate, out)
            if out:
                yield out
            return
        resampler = Resampler(self.synthesizer.sample_rate, sample_rate)
        parts: list[bytes] = []
        for sentence in self.split(spoken):
            part = self.synthesizer.synthesize(sentence)
            parts.append(part)
            piece = resampler.process(part)
            if piece:
                yield piece
        tail = resampler.flush()
        if tail:
            yield tail
        self.cache.store(spoken, b"".join(parts))

    def prepare(self, texts: Iterable[str], sample_rates: Iterable[int]) -> PrepareReport:
        """Synthesise every phrase missing from the disk cache and warm the LRU for each rate."""
        started = time.perf_counter()
        rates = list(dict.fromkeys(sample_rates))
        phrases = list(dict.fromkeys(t for t in texts if t.strip()))
        synthesized = 0
        samples = 0
        for text in phrases:
            spoken = self.normalize(text)
            pcm = self.cache.load(spoken)
            if pcm is None:
                pcm = self._synthesize_sentences(spoken)
                self.cache.store(spoken, pcm)
                synthesized += 1
            samples += len(pcm) // 2
            for rate in rates:
                if self._recall(text, rate) is None:
                    self._remember(text, rate, resample(pcm, self.synthesizer.sample_rate, rate))
        return PrepareReport(
            count=len(phrases),
            synthesized=synthesized,
            seconds=time.perf_counter() - started,
            audio_seconds=samples / self.synthesizer.sample_rate,
        )

    def _synthesize_sentences(self, spoken: str) -> bytes:
        return b"".join(self.synthesizer.synthesize(s) for s in self.split(spoken))

    def _recall(self, text: str, sample_rate: int) -> bytes | None:
        with self._lock:
            found = self._memory.get((text, sample_rate))
            if found is not None:
                self._memory.move_to_end((text, sample_rate))
            return found

    def _remember(self, text: str, sample_rate: int, pcm: bytes) -> None:
        if len(pcm) > self.memory_bytes:
            return
        with self._lock:
            old = self._memory.pop((text, sample_rate), None)
            if old is not None:
                self._memory_used -= len(old)
            self._memory[(text, sample_rate)] = pcm
            self._memory_used += len(pcm)
            while self._memory_used > self.memory_bytes:
                _, evicted = self._memory.popitem(last=False)
                self._memory_used -= len(evicted)
