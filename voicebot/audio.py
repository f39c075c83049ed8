"""Audio inside the core: mono PCM16 little-endian. G.711, resampling (soxr) and framing helpers.

G.711 follows ITU-T G.711 as implemented by the classic Sun reference code (the one Python's
old `audioop` used): encoding quantises the 14-bit (mu-law) or 13-bit (A-law) top of each
sample, decoding returns the segment midpoint scaled to 16 bits. A-law is the norm on Russian
and European networks, mu-law in North America and Japan (and on Twilio).
"""

from __future__ import annotations

import math
import wave
from pathlib import Path
from typing import Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt
import soxr

from voicebot.errors import VoicebotError

Codec = Literal["alaw", "ulaw", "pcm16"]
CODECS: tuple[Codec, ...] = get_args(Codec)
_Array = TypeVar("_Array", bound="npt.NDArray[np.generic]")

# The code a G.711 line sends for silence (the encoding of PCM 0).
ALAW_SILENCE = 0xD5
ULAW_SILENCE = 0xFF


class AudioFormatError(VoicebotError, ValueError):
    """Audio or audio parameters the core cannot handle (unknown codec, odd PCM16 length...)."""

    code = "audio_format_error"


# --- G.711 tables -----------------------------------------------------------------------------


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = ((((codes & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (codes & 0x70) >> 4
    mantissa = (codes & 0x0F) << 4
    magnitude = np.where(
        exponent == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(codes & 0x80, magnitude, -magnitude).astype(np.int16)


def _all_samples() -> npt.NDArray[np.int32]:
    """Every PCM16 value, ordered so that `table[uint16 view of a sample]` is its code."""
    return np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    value = _all_samples() >> 2  # 14-bit, arithmetic shift like the reference code
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), 8159) + (0x84 >> 2)
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left")
    quant = (magnitude >> np.minimum(segment + 1, 8)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | quant)  # beyond the last segment: clip
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    value = _all_samples() >> 3  # 13-bit
    mask = np.where(value >= 0, 0xD5, 0x55)
    magnitude = np.where(value >= 0, value, -value - 1)
    segment_ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left")
    quant = np.where(segment < 2, magnitude >> 1, magnitude >> np.maximum(segment, 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | quant)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _frozen(array: _Array) -> _Array:
    array.flags.writeable = False
    return array


# Constant lookup tables (read-only): 256 codes -> PCM16 LE bytes, 65536 samples -> code.
_DECODE: dict[str, npt.NDArray[np.int16]] = {
    "alaw": _frozen(_alaw_decode_table().astype("<i2")),
    "ulaw": _frozen(_ulaw_decode_table().astype("<i2")),
}
_ENCODE: dict[str, npt.NDArray[np.uint8]] = {
    "alaw": _frozen(_alaw_encode_table()),
    "ulaw": _frozen(_ulaw_encode_table()),
}


def _check_codec(codec: str) -> None:
    if codec not in CODECS:
        raise AudioFormatError(f"unknown codec {codec!r}; expected one of {', '.join(CODECS)}")


def _check_pcm(pcm: bytes) -> None:
    if len(pcm) % 2:
        raise AudioFormatError(f"PCM16 audio must have an even number of bytes, got {len(pcm)}")


def _check_rate(sample_rate: int) -> None:
    if sample_rate <= 0:
        raise AudioFormatError(f"sample rate must be positive, got {sample_rate}")


def decode(payload: bytes, codec: Codec) -> bytes:
    """Wire audio in `codec` -> mono PCM16 LE (pcm16 is checked and passed through)."""
    _check_codec(codec)
    if codec == "pcm16":
        _check_pcm(payload)
        return bytes(payload)
    codes = np.frombuffer(payload, dtype=np.uint8)
    return _DECODE[codec].take(codes).tobytes()


def encode(pcm: bytes, codec: Codec) -> bytes:
    """Mono PCM16 LE -> wire audio in `codec` (pcm16 is checked and passed through)."""
    _check_codec(codec)
    _check_pcm(pcm)
    if codec == "pcm16":
        return bytes(pcm)
    samples = np.frombuffer(pcm, dtype="<u2")
    return _ENCODE[codec].take(samples).tobytes()


def bytes_per_sample(codec: Codec) -> int:
    """1 for G.711, 2 for PCM16."""
    _check_codec(codec)
    return 2 if codec == "pcm16" else 1


def bytes_per_frame(codec: Codec, sample_rate: int, ms: int = 20) -> int:
    """Bytes of one `ms` frame (160 for A-law at 8 kHz, 320 for PCM16 at 8 kHz)."""
    _check_rate(sample_rate)
    samples, rest = divmod(sample_rate * ms, 1000)
    if ms <= 0 or rest:
        raise AudioFormatError(f"{ms} ms at {sample_rate} Hz is not a whole number of samples")
    return samples * bytes_per_sample(codec)


def silence_byte(codec: Codec) -> int:
    """The byte value a silent stream in `codec` repeats (0 for PCM16)."""
    _check_codec(codec)
    return {"alaw": ALAW_SILENCE, "ulaw": ULAW_SILENCE, "pcm16": 0}[codec]


class Framer:
    """Cuts an arbitrary byte stream (in one codec) into exact frames; keeps the remainder."""

    def __init__(self, sample_rate: int, codec: Codec = "pcm16", ms: int = 20) -> None:
        """Frames of `ms` milliseconds of `codec` audio at `sample_rate`."""
        self.codec = codec
        self.frame_bytes = bytes_per_frame(codec, sample_rate, ms)
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back until the next frame is complete."""
        return len(self._buffer)

    def push(self, data: bytes) -> list[bytes]:
        """Add data; every frame now complete, in order."""
        self._buffer += data
        size = self.frame_bytes
        count = len(self._buffer) // size
        if not count:
            return []
        view = bytes(self._buffer[: count * size])
        del self._buffer[: count * size]
        return [view[i * size : (i + 1) * size] for i in range(count)]

    def flush(self, pad: bool = True) -> bytes | None:
        """The remainder (padded with the codec's silence to a full frame if `pad`), or None."""
        if not self._buffer:
            return None
        rest = bytes(self._buffer)
        self._buffer.clear()
        if pad:
            rest += bytes([silence_byte(self.codec)]) * (self.frame_bytes - len(rest))
        return rest


def silence(ms: float, sample_rate: int) -> bytes:
    """Digital silence: `ms` milliseconds of PCM16 zeros (rounded to whole samples)."""
    _check_rate(sample_rate)
    if ms < 0:
        raise AudioFormatError(f"duration must not be negative, got {ms} ms")
    return bytes(2 * round(sample_rate * ms / 1000))


def duration_s(pcm: bytes, sample_rate: int) -> float:
    """Seconds of PCM16 audio."""
    _check_rate(sample_rate)
    _check_pcm(pcm)
    return len(pcm) / 2 / sample_rate


def rms_dbfs(pcm: bytes) -> float:
    """RMS level of PCM16 audio in dBFS (0 dB = RMS of 32768; -inf for silence or no audio)."""
    _check_pcm(pcm)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not len(samples):
        return -math.inf
    rms = math.sqrt(float(np.mean(samples * samples)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


# --- resampling -------------------------------------------------------------------------------


def resample(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    """Resample a whole PCM16 clip (one shot, high quality)."""
    if in_rate == out_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    out = soxr.resample(samples, in_rate, out_rate, quality="HQ")
    return np.asarray(out, dtype="<i2").tobytes()


class Resampler:
    """Streaming PCM16 resampler for one direction of one call (keeps filter state)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        """A resampler from `in_rate` to `out_rate` Hz."""
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")
        )

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk; output may lag the input by a few milliseconds."""
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2")
        return np.asarray(self._stream.resample_chunk(samples), dtype="<i2").tobytes()

    def flush(self) -> bytes:
        """Whatever the filter still holds (end of an utterance)."""
        if self._stream is None:
            return b""
        out = self._stream.resample_chunk(np.zeros(0, dtype="<i2"), last=True)
        self._stream = soxr.ResampleStream(
            self.in_rate, self.out_rate, 1, dtype="int16", quality="HQ"
        )
        return np.asarray(out, dtype="<i2").tobytes()


def read_wav(path: Path) -> tuple[bytes, int]:
    """Mono PCM16 samples and the rate of a WAV file; AudioFormatError (in Russian) otherwise."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            pcm = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: не WAV PCM ({exc}); нужен WAV моно PCM 16 бит") from exc
    if channels != 1 or width != 2:
        raise AudioFormatError(
            f"{path}: нужен WAV моно PCM 16 бит, а в файле {channels} канал(а), "
            f"{width * 8} бит (перекодируйте: sox {path.name} -c 1 -b 16 out.wav)"
        )
    return pcm, rate


def write_wav(path: Path, pcm: bytes, sample_rate: int) -> None:
    """Write mono PCM16 as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
