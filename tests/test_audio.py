"""G.711 against ITU-T vectors and Python's reference `audioop`, framing and level helpers."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from voicebot.audio import (
    AudioFormatError,
    Codec,
    Framer,
    bytes_per_frame,
    decode,
    duration_s,
    encode,
    resample,
    rms_dbfs,
    silence,
)
from voicebot.errors import VoicebotError

ALL_CODES = bytes(range(256))
ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()


def audioop_module() -> ModuleType:
    """Python 3.11's deprecated audioop (the classic Sun G.711 reference), or skip."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # removed in Python 3.13
            pytest.skip("audioop (the G.711 reference) is not in this Python")
    return audioop


def samples(pcm: bytes) -> list[int]:
    """PCM16 LE bytes -> ints."""
    return [int(v) for v in np.frombuffer(pcm, dtype="<i2")]


def as_int(pcm: bytes) -> npt.NDArray[np.int64]:
    """PCM16 LE bytes -> int64 array."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.int64)


# --- G.711 known values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value"),
    [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xFE, 8), (0x7E, -8), (0xEF, 132)],
)
def test_ulaw_decodes_itu_values(code: int, value: int) -> None:
    assert samples(decode(bytes([code]), "ulaw")) == [value]


@pytest.mark.parametrize(
    ("code", "value"),
    [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0xD4, 24), (0xC5, 264)],
)
def test_alaw_decodes_itu_values(code: int, value: int) -> None:
    assert samples(decode(bytes([code]), "alaw")) == [value]


def test_silence_encodes_to_the_idle_codes() -> None:
    assert encode(bytes(4), "alaw") == b"\xd5\xd5"
    assert encode(bytes(4), "ulaw") == b"\xff\xff"


@pytest.mark.parametrize(("codec", "decoder_name"), [("alaw", "alaw2lin"), ("ulaw", "ulaw2lin")])
def test_decode_table_equals_audioop(codec: Codec, decoder_name: str) -> None:
    decoder: Callable[[bytes, int], bytes] = getattr(audioop_module(), decoder_name)
    assert decode(ALL_CODES, codec) == decoder(ALL_CODES, 2)


@pytest.mark.parametrize(("codec", "encoder_name"), [("alaw", "lin2alaw"), ("ulaw", "lin2ulaw")])
def test_encode_of_every_pcm16_value_equals_audioop(codec: Codec, encoder_name: str) -> None:
    encoder: Callable[[bytes, int], bytes] = getattr(audioop_module(), encoder_name)
    ours, reference = encode(ALL_SAMPLES, codec), encoder(ALL_SAMPLES, 2)
    assert len(ours) == 65536
    mismatches = [i - 32768 for i in range(65536) if ours[i] != reference[i]]
    assert mismatches == []


@pytest.mark.parametrize("codec", ["alaw", "ulaw"])
def test_code_round_trip_is_exact(codec: Codec) -> None:
    again = encode(decode(ALL_CODES, codec), codec)
    if codec == "ulaw":  # 0x7F is mu-law's "negative zero", which encodes back as 0xFF
        assert again[0x7F] == 0xFF
        again = again[:0x7F] + b"\x7f" + again[0x80:]
    assert again == ALL_CODES


@pytest.mark.parametrize(
    ("codec", "abs_bound", "small_bound", "relative_from_1024"),
    [("alaw", 512, 8, 1 / 32), ("ulaw", 644, 12, 0.036)],
)
def test_pcm_round_trip_error_is_bounded(
    codec: Codec, abs_bound: int, small_bound: int, relative_from_1024: float
) -> None:
    """Quantisation error: half a step of a 4-bit mantissa, so ~1/32 of the value."""
    original = as_int(ALL_SAMPLES)
    error = np.abs(as_int(decode(encode(ALL_SAMPLES, codec), codec)) - original)
    assert int(error.max()) <= abs_bound  # the mu-law bound includes clipping at +-32124
    small = np.abs(original) < 256
    assert int(error[small].max()) <= small_bound
    large = np.abs(original) >= 1024
    assert float((error[large] / np.abs(original[large])).max()) <= relative_from_1024
    decoded = as_int(decode(encode(ALL_SAMPLES, codec), codec))
    assert bool(np.all(np.diff(decoded) >= 0))  # monotonic: louder never decodes quieter


def test_pcm16_passes_through() -> None:
    pcm = np.array([0, 1, -1, 32767, -32768], dtype="<i2").tobytes()
    assert decode(pcm, "pcm16") == pcm
    assert encode(pcm, "pcm16") == pcm


def test_g711_of_a_tone_keeps_its_level() -> None:
    t = np.arange(8000) / 8000
    tone = (np.sin(2 * np.pi * 1000 * t) * 10000).astype("<i2").tobytes()
    for codec in ("alaw", "ulaw"):
        back = decode(encode(tone, codec), codec)
        assert len(back) == len(tone)
        assert abs(rms_dbfs(back) - rms_dbfs(tone)) < 0.1


# --- validation -------------------------------------------------------------------------------


def test_unknown_codec_is_rejected_clearly() -> None:
    with pytest.raises(AudioFormatError, match="unknown codec 'opus'"):
        decode(b"\x00", "opus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected one of alaw, ulaw, pcm16"):
        encode(b"\x00\x00", "g722")  # type: ignore[arg-type]


def test_odd_length_pcm_is_rejected() -> None:
    for call in (
        lambda: encode(b"\x00\x01\x02", "alaw"),
        lambda: decode(b"\x00", "pcm16"),
        lambda: duration_s(b"\x00", 8000),
        lambda: rms_dbfs(b"\x00"),
    ):
        with pytest.raises(AudioFormatError, match="even number of bytes") as raised:
            call()
        assert isinstance(raised.value, VoicebotError)
        assert raised.value.code == "audio_format_error"


# --- frames and helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "rate", "ms", "size"),
    [
        ("alaw", 8000, 20, 160),
        ("ulaw", 8000, 20, 160),
        ("pcm16", 8000, 20, 320),
        ("pcm16", 16000, 20, 640),
        ("pcm16", 48000, 10, 960),
        ("ulaw", 8000, 30, 240),
    ],
)
def test_bytes_per_frame(codec: Codec, rate: int, ms: int, size: int) -> None:
    assert bytes_per_frame(codec, rate, ms) == size


def test_bytes_per_frame_rejects_fractional_frames() -> None:
    with pytest.raises(AudioFormatError, match="whole number of samples"):
        bytes_per_frame("pcm16", 22050, 1)
    with pytest.raises(AudioFormatError, match="positive"):
        bytes_per_frame("pcm16", 0)


def test_framer_cuts_exact_frames_and_keeps_the_rest() -> None:
    framer = Framer(8000, "pcm16")
    assert framer.push(b"\x01" * 100) == []
    assert framer.pending == 100
    frames = framer.push(b"\x02" * 700)  # 800 bytes in all: two frames, 160 left
    assert [len(f) for f in frames] == [320, 320]
    assert frames[0] == b"\x01" * 100 + b"\x02" * 220
    assert frames[1] == b"\x02" * 320
    assert framer.pending == 160
    assert framer.push(b"") == []
    assert framer.flush() == b"\x02" * 160 + bytes(160)
    assert framer.flush() is None
    assert framer.pending == 0


def test_framer_pads_with_the_codecs_silence() -> None:
    alaw = Framer(8000, "alaw")
    assert alaw.push(b"\x11" * 170) == [b"\x11" * 160]
    assert alaw.flush() == b"\x11" * 10 + b"\xd5" * 150
    ulaw = Framer(8000, "ulaw")
    ulaw.push(b"\x11" * 3)
    assert ulaw.flush() == b"\x11" * 3 + b"\xff" * 157
    unpadded = Framer(16000)
    unpadded.push(b"\x05" * 1000)
    assert unpadded.flush(pad=False) == b"\x05" * 360


def test_framer_output_is_the_input_in_order() -> None:
    rng = np.random.default_rng(7)
    stream = rng.integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    framer = Framer(8000, "ulaw")
    out: list[bytes] = []
    position = 0
    for size in rng.integers(0, 400, 100):
        out += framer.push(stream[position : position + int(size)])
        position += int(size)
    out += framer.push(stream[position:])
    assert all(len(f) == 160 for f in out)
    rest = framer.flush(pad=False) or b""
    assert b"".join(out) + rest == stream


def test_silence_duration_and_level() -> None:
    assert silence(20, 8000) == bytes(320)
    assert len(silence(12.5, 16000)) == 400
    assert duration_s(silence(1500, 8000), 8000) == 1.5
    assert duration_s(b"", 16000) == 0.0
    assert rms_dbfs(silence(20, 8000)) == -math.inf
    assert rms_dbfs(b"") == -math.inf
    full = np.array([32767, -32767] * 80, dtype="<i2").tobytes()
    assert rms_dbfs(full) == pytest.approx(0.0, abs=0.001)
    t = np.arange(8000) / 8000
    sine = (np.sin(2 * np.pi * 440 * t) * 3277).astype("<i2").tobytes()  # 0.1 of full scale
    assert rms_dbfs(sine) == pytest.approx(-20 - 3.01, abs=0.05)
    with pytest.raises(AudioFormatError):
        silence(-1, 8000)


def test_resample_keeps_duration() -> None:
    one_second = (np.sin(2 * np.pi * 300 * np.arange(22050) / 22050) * 8000).astype("<i2")
    out = resample(one_second.tobytes(), 22050, 8000)
    assert duration_s(out, 8000) == pytest.approx(1.0, abs=0.001)
    assert rms_dbfs(out) == pytest.approx(rms_dbfs(one_second.tobytes()), abs=0.1)
