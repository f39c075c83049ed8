"""The real silero-vad model on onnxruntime: Russian speech from espeak-ng and real telephone prompts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio import read_wav, resample, silence
from voicebot.engines.silero import SileroSpeechDetector, SileroVadModel, packaged_model_path
from voicebot.vad import Endpointer, SpeechEnded, SpeechStarted

pytestmark = pytest.mark.speech

ASTERISK_RU = Path("/usr/share/asterisk/sounds/ru")
PHRASE = "Здравствуйте подскажите пожалуйста как оплатить интернет"
LEAD_S, TAIL_S = 1.0, 1.5  # silence put around the speech
TOLERANCE_S = 0.15


def trim(pcm: bytes, share: float = 0.02) -> bytes:
    """Cut the leading and trailing near-silence (below `share` of the peak)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    loud = np.flatnonzero(np.abs(samples) > share * np.abs(samples).max())
    return samples[loud[0] : loud[-1] + 1].astype("<i2").tobytes()


def probabilities(detector: SileroSpeechDetector, pcm: bytes, frame_ms: int = 20) -> list[float]:
    """Feed in 20 ms frames like a call does."""
    size = detector.sample_rate * frame_ms // 1000 * 2
    out: list[float] = []
    for i in range(0, len(pcm), size):
        out += [p for _, p in detector.feed(pcm[i : i + size])]
    return out


@pytest.fixture(scope="session")
def model() -> SileroVadModel:
    """The shared model (one InferenceSession for the whole test session)."""
    return SileroVadModel()


@pytest.fixture(scope="session")
def espeak_speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, int]:
    """The Russian phrase spoken by espeak-ng, trimmed of edge silence (native rate)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no speech to test on")
    path = tmp_path_factory.mktemp("espeak") / "phrase.wav"
    subprocess.run(["espeak-ng", "-v", "ru", "-w", str(path), PHRASE], check=True, timeout=60)
    pcm, rate = read_wav(path)
    return trim(pcm), rate


def padded(speech: bytes, rate: int) -> tuple[bytes, float, float]:
    """Speech between known silences: audio, true speech start and end in seconds."""
    start = LEAD_S
    end = start + len(speech) / 2 / rate
    return silence(LEAD_S * 1000, rate) + speech + silence(TAIL_S * 1000, rate), start, end


def telephone_prompt(name: str) -> tuple[bytes, int]:
    """A real Russian 8 kHz telephone recording shipped with Asterisk."""
    path = ASTERISK_RU / f"{name}.wav"
    if not path.exists():
        pytest.skip(f"{path} missing (apt-get install asterisk-core-sounds-ru-wav)")
    return read_wav(path)


# --- probabilities ----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000])
def test_speech_is_probable_and_silence_is_not(
    model: SileroVadModel, espeak_speech: tuple[bytes, int], rate: int
) -> None:
    speech, native = espeak_speech
    audio, start, end = padded(resample(speech, native, rate), rate)
    detector = SileroSpeechDetector(model, rate)
    probs = np.array(probabilities(detector, audio))
    window = detector.window_seconds
    assert window == pytest.approx(0.032)
    times = np.arange(len(probs)) * window
    inside = probs[(times >= start + 0.1) & (times + window <= end - 0.1)]
    before = probs[times + window <= start - 0.1]
    after = probs[times >= end + 0.3]
    assert len(inside) > 50 and len(before) > 20 and len(after) > 20
    assert float(np.median(inside)) > 0.9
    assert float(np.mean(inside >= 0.5)) > 0.85
    assert float(before.max()) < 0.1
    assert float(after.max()) < 0.1


@pytest.mark.parametrize("rate", [8000, 16000])
def test_digital_silence_and_low_noise_are_not_speech(model: SileroVadModel, rate: int) -> None:
    assert max(probabilities(SileroSpeechDetector(model, rate), silence(3000, rate))) < 0.1
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 32768 * 10 ** (-50 / 20), rate * 3)  # white noise at -50 dBFS
    probs = probabilities(SileroSpeechDetector(model, rate), noise.astype("<i2").tobytes())
    assert max(probs) < 0.35  # never even above the silence threshold
    assert float(np.mean(probs)) < 0.05


def test_other_rates_are_resampled_to_16k(
    model: SileroVadModel, espeak_speech: tuple[bytes, int]
) -> None:
    speech, native = espeak_speech
    assert native not in (8000, 16000)  # espeak-ng speaks at 22050 Hz
    audio, start, _end = padded(speech, native)
    detector = SileroSpeechDetector(model, native)
    assert detector.model_rate == 16000
    windows = detector.feed(audio)
    total = sum(seconds for seconds, _ in windows)
    assert total == pytest.approx(len(audio) / 2 / native, abs=0.05)
    endpointer = Endpointer()
    events = [e for seconds, p in windows for e in endpointer.update(seconds, p)]
    first = next(e for e in events if isinstance(e, SpeechStarted))
    assert abs(first.at_s - start) <= TOLERANCE_S


# --- endpointing on real speech ---------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000])
def test_endpointer_finds_the_utterance_boundaries(
    model: SileroVadModel, espeak_speech: tuple[bytes, int], rate: int
) -> None:
    speech, native = espeak_speech
    audio, start, end = padded(resample(speech, native, rate), rate)
    detector = SileroSpeechDetector(model, rate)
    endpointer = Endpointer()
    events = []
    frame = rate // 50 * 2
    for i in range(0, len(audio), frame):
        for seconds, probability in detector.feed(audio[i : i + frame]):
            events += endpointer.update(seconds, probability)
    started = [e for e in events if isinstance(e, SpeechStarted)]
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1 and not ended[0].forced, events
    assert abs(started[0].at_s - start) <= TOLERANCE_S, (started[0].at_s, start)
    assert endpointer.last_speech_end_s is not None
    assert abs(endpointer.last_speech_end_s - end) <= TOLERANCE_S, (
        endpointer.last_speech_end_s,
        end,
    )
    assert not endpointer.in_speech


# --- real telephone recordings ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["vm-intro", "agent-pass"])
def test_russian_telephone_prompt_is_speech(model: SileroVadModel, name: str) -> None:
    pcm, rate = telephone_prompt(name)
    assert rate == 8000
    detector = SileroSpeechDetector(model, rate)
    endpointer = Endpointer()
    windows = detector.feed(silence(500, rate) + pcm + silence(1500, rate))
    events = [e for seconds, p in windows for e in endpointer.update(seconds, p)]
    probs = np.array([p for _, p in windows])
    assert float(probs.max()) > 0.95
    assert float(np.mean(probs >= 0.5)) > 0.3
    assert any(isinstance(e, SpeechStarted) for e in events)
    assert isinstance(events[-1], SpeechEnded) and not events[-1].forced


def test_a_telephone_beep_is_not_speech(model: SileroVadModel) -> None:
    pcm, rate = telephone_prompt("beep")
    probs = probabilities(SileroSpeechDetector(model, rate), pcm + silence(500, rate))
    assert max(probs) < 0.35


# --- the detector's mechanics ------------------------------------------------------------------


def test_matches_silero_vads_own_onnx_wrapper(
    model: SileroVadModel, espeak_speech: tuple[bytes, int]
) -> None:
    """Our numpy feeding reproduces silero-vad's OnnxWrapper (torch) window for window."""
    torch = pytest.importorskip("torch", reason="torch is needed to run silero-vad's own wrapper")
    from silero_vad.utils_vad import OnnxWrapper

    speech, native = espeak_speech
    for rate in (8000, 16000):
        audio, _, _ = padded(resample(speech, native, rate), rate)
        reference = OnnxWrapper(str(packaged_model_path()), force_onnx_cpu=True)
        tensor = torch.from_numpy(np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768)
        size = 256 if rate == 8000 else 512
        expected = [
            float(reference(tensor[i : i + size], rate).item())
            for i in range(0, len(tensor) - size + 1, size)
        ]
        ours = probabilities(SileroSpeechDetector(model, rate), audio)
        assert len(ours) == len(expected)
        assert np.max(np.abs(np.array(ours) - np.array(expected))) < 1e-5


def test_chunking_does_not_change_the_result(
    model: SileroVadModel, espeak_speech: tuple[bytes, int]
) -> None:
    speech, native = espeak_speech
    audio, _, _ = padded(resample(speech, native, 8000), 8000)
    whole = [p for _, p in SileroSpeechDetector(model, 8000).feed(audio)]
    framed = probabilities(SileroSpeechDetector(model, 8000), audio)
    rng = np.random.default_rng(3)
    detector = SileroSpeechDetector(model, 8000)
    ragged: list[float] = []
    position = 0
    while position < len(audio):
        size = int(rng.integers(1, 400)) * 2
        ragged += [p for _, p in detector.feed(audio[position : position + size])]
        position += size
    assert len(whole) == len(framed) == len(ragged) == len(audio) // 2 // 256
    assert whole == framed == ragged
    assert detector.feed(b"") == []


def test_reset_starts_afresh(model: SileroVadModel, espeak_speech: tuple[bytes, int]) -> None:
    speech, native = espeak_speech
    audio, _, _ = padded(resample(speech, native, 8000), 8000)
    fresh = probabilities(SileroSpeechDetector(model, 8000), audio)
    detector = SileroSpeechDetector(model, 8000)
    detector.feed(audio[: len(audio) // 4 * 2 + 101 * 2])  # leaves part of a window pending
    detector.reset()
    assert probabilities(detector, audio) == fresh


def test_one_model_serves_many_calls_in_parallel(
    model: SileroVadModel, espeak_speech: tuple[bytes, int]
) -> None:
    speech, native = espeak_speech
    clips = [
        padded(resample(speech, native, 8000), 8000)[0],
        silence(300, 8000) + resample(speech, native, 8000)[::-1],
        padded(resample(speech, native, 16000), 16000)[0],
    ]
    rates = [8000, 8000, 16000]
    alone = [
        probabilities(SileroSpeechDetector(model, r), c) for c, r in zip(clips, rates, strict=True)
    ]
    together: list[list[float]] = [[] for _ in clips]

    def run(index: int) -> None:
        together[index] = probabilities(SileroSpeechDetector(model, rates[index]), clips[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clips))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone


def test_odd_pcm_is_rejected(model: SileroVadModel) -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        SileroSpeechDetector(model, 8000).feed(b"\x00\x01\x02")


def test_the_runtime_does_not_import_torch() -> None:
    """Importing silero_vad would load torch; we only read the model file it ships."""
    code = (
        "import sys; from voicebot.engines.silero import SileroVadModel, SileroSpeechDetector; "
        "SileroSpeechDetector(SileroVadModel(), 8000).feed(bytes(1024)); "
        "assert 'torch' not in sys.modules and 'silero_vad' not in sys.modules, 'torch loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert packaged_model_path().name == "silero_vad.onnx"
