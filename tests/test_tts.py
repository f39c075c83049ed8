"""SpeechOutput and PhraseCache with a counting fake voice (the Synthesizer protocol)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from voicebot.tts import PhraseCache, SpeechOutput, Synthesizer

VOICE_RATE = 22050
SAMPLES_PER_CHAR = 441  # 20 ms of "speech" per character
LONG_ANSWER = (
    "Проверьте, что кабель плотно вставлен. Перезагрузите роутер на 30 секунд. "
    "Если интернет не появился, позвоните 8 800 555-35-35."
)


class CountingVoice:
    """A deterministic fake voice: a tone per character whose pitch depends on the character."""

    def __init__(self, voice_id: str = "fake:v1", sample_rate: int = VOICE_RATE) -> None:
        self._voice_id = voice_id
        self._sample_rate = sample_rate
        self.calls: list[str] = []

    @property
    def voice_id(self) -> str:
        return self._voice_id

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def synthesize(self, text: str) -> bytes:
        self.calls.append(text)
        t = np.arange(SAMPLES_PER_CHAR) / self._sample_rate
        pieces = [
            (8000 * np.sin(2 * np.pi * (200 + ord(ch) % 600) * t)).astype("<i2") for ch in text
        ]
        return np.concatenate(pieces).tobytes() if pieces else b""


def _speech(
    tmp_path: Path, voice: CountingVoice | None = None
) -> tuple[SpeechOutput, CountingVoice]:
    voice = voice or CountingVoice()
    return SpeechOutput(voice, PhraseCache(tmp_path / "speech", voice)), voice


def test_the_fake_implements_the_protocol() -> None:
    voice: Synthesizer = CountingVoice()
    assert voice.sample_rate == VOICE_RATE


def test_second_call_does_not_synthesise(tmp_path: Path) -> None:
    speech, voice = _speech(tmp_path)
    first = speech.audio("Добрый день.", 8000)
    assert voice.calls == ["Добрый день."]
    assert speech.audio("Добрый день.", 8000) == first
    assert speech.audio("Добрый день.", 16000)  # another rate: resampled from the disk cache
    assert len(voice.calls) == 1


def test_text_is_normalised_before_synthesis(tmp_path: Path) -> None:
    speech, voice = _speech(tmp_path)
    speech.audio("Подождите 5 минут. Тариф стоит 550 руб.", 8000)
    assert voice.calls == ["Подождите пять минут.", "Тариф стоит пятьсот пятьдесят рублей."]
    assert not any(re.search(r"\d", call) for call in voice.calls)


def test_restart_hits_the_disk_cache(tmp_path: Path) -> None:
    speech, voice = _speech(tmp_path)
    before = speech.audio(LONG_ANSWER, 8000)
    restarted_voice = CountingVoice()
    restarted, _ = _speech(tmp_path, restarted_voice)
    assert restarted.is_cached(LONG_ANSWER)
    assert restarted.audio(LONG_ANSWER, 8000) == before
    assert restarted_voice.calls == []
    assert len(voice.calls) == 3  # one per sentence, once


def test_a_different_voice_id_is_a_different_key(tmp_path: Path) -> None:
    voice_a, voice_b = CountingVoice("fake:a"), CountingVoice("fake:b")
    cache_a = PhraseCache(tmp_path, voice_a)
    cache_b = PhraseCache(tmp_path, voice_b)
    assert cache_a.key("Привет.") != cache_b.key("Привет.")
    assert cache_a.path("Привет.") != cache_b.path("Привет.")
    cache_a.get("Привет.")
    assert cache_a.contains("Привет.")
    assert not cache_b.contains("Привет.")
    cache_b.get("Привет.")
    assert (len(voice_a.calls), len(voice_b.calls)) == (1, 1)


def test_key_ignores_whitespace_differences(tmp_path: Path) -> None:
    cache = PhraseCache(tmp_path, CountingVoice())
    assert cache.key("Добрый  день.\n") == cache.key("Добрый день.")


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_corrupt_cache_file_is_synthesised_again(tmp_path: Path, damage: str) -> None:
    voice = CountingVoice()
    cache = PhraseCache(tmp_path, voice)
    good = cache.get("Соединяю со специалистом.")
    path = cache.path("Соединяю со специалистом.")
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:-100])
    elif damage == "flip":
        path.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    elif damage == "garbage":
        path.write_bytes(b"not a phrase cache file at all")
    else:
        path.write_bytes(b"")
    assert cache.load("Соединяю со специалистом.") is None
    assert cache.get("Соединяю со специалистом.") == good
    assert len(voice.calls) == 2
    assert path.read_bytes() == data  # replaced by a good file
    assert cache.load("Соединяю со специалистом.") == good


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    voice = CountingVoice()
    cache = PhraseCache(tmp_path, voice)
    cache.get("Первая фраза.")
    path = cache.path("Первая фраза.")
    before = path.read_bytes()

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.store("Первая фраза.", b"\x01\x00" * 10)
    assert path.read_bytes() == before  # the old file is untouched
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind


def test_empty_text_is_silence_without_synthesis(tmp_path: Path) -> None:
    speech, voice = _speech(tmp_path)
    assert speech.audio("", 8000) == b""
    assert list(speech.chunks("   ", 8000)) == []
    assert voice.calls == []


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 48000])
def test_resampled_length_matches_the_rate_ratio(tmp_path: Path, rate: int) -> None:
    speech, _voice = _speech(tmp_path)
    out = speech.audio("Слушаю вас.", rate)
    voice_samples = len("Слушаю вас.") * SAMPLES_PER_CHAR
    assert abs(len(out) // 2 - voice_samples * rate / VOICE_RATE) <= 2
    assert len(out) % 2 == 0


def test_chunks_stream_sentence_by_sentence_when_uncached(tmp_path: Path) -> None:
    speech, voice = _speech(tmp_path)
    stream = speech.chunks(LONG_ANSWER, 8000)
    first = next(stream)
    assert first
    assert len(voice.calls) == 1  # the first sentence plays before the rest is synthesised
    rest = list(stream)
    assert len(voice.calls) == 3
    assert len(rest) >= 2
    assert speech.is_cached(LONG_ANSWER)  # the whole phrase is stored once streamed


def test_chunks_of_a_cached_phrase_come_whole(tmp_path: Path) -> None:
    speech, _voice = _speech(tmp_path)
    whole = speech.audio(LONG_ANSWER, 8000)
    assert list(speech.chunks(LONG_ANSWER, 8000)) == [whole]
    restarted, restarted_voice = _speech(tmp_path)
    assert list(restarted.chunks(LONG_ANSWER, 8000)) == [whole]
    assert restarted_voice.calls == []


def test_an_interrupted_stream_stores_nothing(tmp_path: Path) -> None:
    speech, _voice = _speech(tmp_path)
    stream = speech.chunks(LONG_ANSWER, 8000)
    next(stream)
    stream.close()  # barge-in
    assert not speech.is_cached(LONG_ANSWER)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_chunks_concatenation_equals_audio(tmp_path: Path, rate: int) -> None:
    streamed_speech, _ = _speech(tmp_path / "a")
    whole_speech, _ = _speech(tmp_path / "b")
    streamed = np.frombuffer(b"".join(streamed_speech.chunks(LONG_ANSWER, rate)), "<i2")
    whole = np.frombuffer(whole_speech.audio(LONG_ANSWER, rate), "<i2")
    assert abs(len(streamed) - len(whole)) <= 4
    n = min(len(streamed), len(whole))
    difference = np.abs(streamed[:n].astype(np.int32) - whole[:n].astype(np.int32))
    assert np.percentile(difference, 99) < 80  # of a signal with amplitude 8000
    # and both paths synthesised exactly the same sentences
    assert streamed_speech.cache.load(streamed_speech.normalize(LONG_ANSWER)) == (
        whole_speech.cache.load(whole_speech.normalize(LONG_ANSWER))
    )


def test_prepare_counts(tmp_path: Path) -> None:
    speech, voice = _speech(tmp_path)
    speech.audio("Слушаю вас.", 8000)
    texts = ["Слушаю вас.", "Могу ещё чем-то помочь?", LONG_ANSWER, "Слушаю вас.", "  "]
    report = speech.prepare(texts, [8000, 16000])
    assert (report.count, report.synthesized) == (3, 2)
    assert report.seconds >= 0
    expected_chars = sum(len(speech.normalize(t).replace(" ", "")) for t in texts[:3])
    assert report.audio_seconds > expected_chars * SAMPLES_PER_CHAR / VOICE_RATE
    assert all(speech.is_cached(t) for t in texts[:3])
    calls = len(voice.calls)
    speech.audio(LONG_ANSWER, 16000)
    assert len(voice.calls) == calls
    again = speech.prepare(texts, [8000])
    assert (again.count, again.synthesized) == (3, 0)
    assert "3 phrases (0 synthesised, 3 cached)" in str(again)


def test_memory_cache_is_bounded(tmp_path: Path) -> None:
    voice = CountingVoice()
    speech = SpeechOutput(voice, PhraseCache(tmp_path, voice), memory_bytes=20_000)
    speech.audio("Первая фраза.", 8000)  # ~4 KB at 8 kHz
    speech.audio("Вторая фраза подлиннее, чем первая.", 8000)
    speech.audio("Третья фраза, тоже довольно длинная, для вытеснения.", 8000)
    assert speech._memory_used <= 20_000
    assert ("Первая фраза.", 8000) not in speech._memory
    assert len(voice.calls) == 3
    speech.audio("Первая фраза.", 8000)  # evicted from memory, still on disk
    assert len(voice.calls) == 3
