"""The endpointing state machine and the backchannel filter, with literals."""

from __future__ import annotations

import math
import random
import re

import pytest

from voicebot.errors import ConfigError
from voicebot.vad import (
    EarlyPause,
    Endpointer,
    EndpointEvent,
    EndpointSettings,
    PauseDetected,
    SpeechEnded,
    SpeechStarted,
    is_backchannel,
)

WINDOW = 0.05  # every duration below is a whole number of windows
SPEECH, QUIET = 0.9, 0.05


def feed(
    endpointer: Endpointer, *parts: tuple[float, float], window: float = WINDOW
) -> list[tuple[float, EndpointEvent]]:
    """Feed (seconds, probability) stretches window by window; (stream time, event) pairs."""
    out: list[tuple[float, EndpointEvent]] = []
    for seconds, probability in parts:
        for _ in range(round(seconds / window)):
            out += [(endpointer.now_s, e) for e in endpointer.update(window, probability)]
    return out


def speech(seconds: float) -> tuple[float, float]:
    return (seconds, SPEECH)


def quiet(seconds: float) -> tuple[float, float]:
    return (seconds, QUIET)


def approx_events(
    events: list[tuple[float, EndpointEvent]],
) -> list[tuple[float, EndpointEvent]]:
    """Round times and fields to the microsecond so literals compare exactly."""
    rounded: list[tuple[float, EndpointEvent]] = []
    for at, event in events:
        if isinstance(event, SpeechStarted):
            event = SpeechStarted(round(event.at_s, 6))
        elif isinstance(event, PauseDetected):
            event = PauseDetected(round(event.silence_s, 6), round(event.speech_s, 6))
        elif isinstance(event, EarlyPause):
            event = EarlyPause(round(event.silence_s, 6), round(event.speech_s, 6))
        else:
            event = SpeechEnded(
                round(event.speech_s, 6), round(event.trailing_silence_s, 6), event.forced
            )
        rounded.append((round(at, 6), event))
    return rounded


def test_one_utterance_start_pause_end() -> None:
    endpointer = Endpointer()
    events = feed(endpointer, quiet(1.0), speech(1.0), quiet(1.0))
    assert approx_events(events) == [
        (1.2, SpeechStarted(1.0)),  # sent when min_speech_s is reached, dated at the onset
        (2.25, PauseDetected(0.25, 1.0)),
        (2.8, SpeechEnded(1.0, 0.8, forced=False)),
    ]
    assert not endpointer.in_speech
    assert endpointer.last_speech_end_s == pytest.approx(2.0)
    assert endpointer.now_s == pytest.approx(3.0)
    assert endpointer.speech_s == 0.0


def test_state_during_an_utterance() -> None:
    endpointer = Endpointer()
    feed(endpointer, quiet(0.5), speech(0.15))
    assert not endpointer.in_speech  # not yet min_speech_s
    assert endpointer.last_speech_end_s is None
    feed(endpointer, speech(0.35))
    assert endpointer.in_speech
    assert endpointer.utterance_started_at_s == pytest.approx(0.5)
    assert endpointer.speech_s == pytest.approx(0.5)
    assert endpointer.last_speech_end_s == pytest.approx(1.0)
    feed(endpointer, quiet(0.3))
    assert endpointer.in_speech  # a pause is still part of the utterance
    assert endpointer.trailing_silence_s == pytest.approx(0.3)
    assert endpointer.speech_s == pytest.approx(0.5)


def test_speech_shorter_than_min_speech_is_ignored() -> None:
    endpointer = Endpointer()
    events = feed(endpointer, quiet(0.5), speech(0.15), quiet(0.5), speech(0.1), quiet(2.0))
    assert events == []
    assert not endpointer.in_speech
    assert endpointer.last_speech_end_s is None


def test_short_bursts_do_not_add_up_across_gaps() -> None:
    endpointer = Endpointer()
    events = feed(endpointer, *[speech(0.15), quiet(0.05)] * 10, quiet(1.0))
    assert events == []


def test_exactly_min_speech_counts() -> None:
    events = feed(Endpointer(), speech(0.2), quiet(1.0))
    assert [type(e).__name__ for _, e in events] == [
        "SpeechStarted",
        "PauseDetected",
        "SpeechEnded",
    ]
    assert approx_events(events)[0] == (0.2, SpeechStarted(0.0))


def test_pause_then_resume_cancels_the_pause() -> None:
    endpointer = Endpointer()
    events = feed(endpointer, speech(0.5), quiet(0.4), speech(0.5), quiet(1.0))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (0.75, PauseDetected(0.25, 0.5)),
        (1.1, SpeechStarted(0.9)),  # the caller went on: the pause is cancelled
        (1.65, PauseDetected(0.25, 1.0)),  # a new pause can come later
        (2.2, SpeechEnded(1.0, 0.8, forced=False)),
    ]


def test_gap_shorter_than_a_pause_is_part_of_the_speech() -> None:
    events = feed(Endpointer(), speech(0.5), quiet(0.15), speech(0.5), quiet(1.0))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (1.4, PauseDetected(0.25, 1.0)),
        (1.95, SpeechEnded(1.0, 0.8, forced=False)),
    ]


def test_a_click_in_the_pause_neither_resets_it_nor_extends_the_utterance() -> None:
    endpointer = Endpointer()
    events = feed(endpointer, speech(0.5), quiet(0.3), speech(0.1), quiet(0.6))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (0.75, PauseDetected(0.25, 0.5)),
        (1.3, SpeechEnded(0.5, 0.8, forced=False)),
    ]
    assert endpointer.last_speech_end_s == pytest.approx(0.5)


def test_a_click_before_the_pause_does_not_delay_it() -> None:
    events = feed(Endpointer(), speech(0.5), quiet(0.1), speech(0.1), quiet(1.0))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (0.75, PauseDetected(0.25, 0.5)),
        (1.3, SpeechEnded(0.5, 0.8, forced=False)),
    ]


EARLY = EndpointSettings(early_pause_s=0.1)


def test_early_pause_comes_before_the_pause() -> None:
    events = feed(Endpointer(EARLY), speech(0.5), quiet(1.0))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (0.6, EarlyPause(0.1, 0.5)),
        (0.75, PauseDetected(0.25, 0.5)),
        (1.3, SpeechEnded(0.5, 0.8, forced=False)),
    ]


def test_no_early_pause_unless_asked_for() -> None:
    events = feed(Endpointer(), speech(0.5), quiet(1.0))
    assert not any(isinstance(e, EarlyPause) for _, e in events)


def test_speech_after_an_early_pause_is_reported_as_going_on() -> None:
    # a gap longer than the early pause but shorter than the pause: the caller goes on
    events = feed(Endpointer(EARLY), speech(0.5), quiet(0.15), speech(0.5), quiet(1.0))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (0.6, EarlyPause(0.1, 0.5)),
        (0.85, SpeechStarted(0.65)),  # the early pause is cancelled
        (1.25, EarlyPause(0.1, 1.0)),  # a new one after the new speech
        (1.4, PauseDetected(0.25, 1.0)),
        (1.95, SpeechEnded(1.0, 0.8, forced=False)),
    ]


def test_a_gap_shorter_than_the_early_pause_reports_nothing() -> None:
    events = feed(Endpointer(EARLY), speech(0.5), quiet(0.05), speech(0.5), quiet(0.1))
    assert approx_events(events) == [(0.2, SpeechStarted(0.0)), (1.15, EarlyPause(0.1, 1.0))]


def test_a_click_in_the_early_pause_does_not_resume() -> None:
    events = feed(Endpointer(EARLY), speech(0.5), quiet(0.1), speech(0.1), quiet(0.2))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (0.6, EarlyPause(0.1, 0.5)),
        (0.75, PauseDetected(0.25, 0.5)),
    ]


def test_an_early_pause_may_be_followed_by_a_forced_end() -> None:
    settings = EndpointSettings(early_pause_s=0.1, max_utterance_s=1.0)
    events = feed(Endpointer(settings), speech(0.85), quiet(0.15))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (0.95, EarlyPause(0.1, 0.85)),
        (1.0, SpeechEnded(0.85, 0.15, forced=True)),
    ]


def test_forced_end_at_max_utterance_then_a_new_utterance() -> None:
    endpointer = Endpointer(EndpointSettings(max_utterance_s=3.0))
    events = feed(endpointer, quiet(0.5), speech(4.0), quiet(1.0))
    assert approx_events(events) == [
        (0.7, SpeechStarted(0.5)),
        (3.5, SpeechEnded(3.0, 0.0, forced=True)),
        (3.7, SpeechStarted(3.5)),  # still talking: the rest is the next utterance
        (4.75, PauseDetected(0.25, 1.0)),
        (5.3, SpeechEnded(1.0, 0.8, forced=False)),
    ]


def test_forced_end_counts_pauses_in_the_utterance_length() -> None:
    endpointer = Endpointer(EndpointSettings(max_utterance_s=2.0))
    events = feed(endpointer, speech(0.5), quiet(0.5), speech(0.5), quiet(0.5), speech(0.5))
    ended = [(at, e) for at, e in approx_events(events) if isinstance(e, SpeechEnded)]
    assert ended == [(2.0, SpeechEnded(1.0, 0.5, forced=True))]


def test_hysteresis_keeps_speech_between_the_thresholds() -> None:
    endpointer = Endpointer()
    # 0.4 is below the speech threshold but above the silence threshold
    events = feed(endpointer, speech(0.5), (1.0, 0.4), (1.0, 0.3))
    assert approx_events(events) == [
        (0.2, SpeechStarted(0.0)),
        (1.75, PauseDetected(0.25, 1.5)),
        (2.3, SpeechEnded(1.5, 0.8, forced=False)),
    ]


def test_hysteresis_needs_the_speech_threshold_to_start() -> None:
    endpointer = Endpointer()
    assert feed(endpointer, (2.0, 0.49), (1.0, 0.4)) == []
    events = feed(endpointer, (0.2, 0.5))  # the threshold itself counts
    assert approx_events(events) == [(3.2, SpeechStarted(3.0))]


def test_custom_thresholds_and_durations() -> None:
    settings = EndpointSettings(
        speech_threshold=0.8,
        silence_threshold=0.6,
        min_speech_s=0.1,
        pause_s=0.1,
        end_silence_s=0.3,
    )
    events = feed(Endpointer(settings), (0.5, 0.7), (0.1, 0.85), (0.2, 0.65), (0.5, 0.5))
    assert approx_events(events) == [
        (0.6, SpeechStarted(0.5)),
        (0.9, PauseDetected(0.1, 0.3)),
        (1.1, SpeechEnded(0.3, 0.3, forced=False)),
    ]


def test_irregular_windows_sum_to_stream_time() -> None:
    endpointer = Endpointer()
    events = feed(endpointer, quiet(0.32), speech(0.64), quiet(0.96), window=0.032)
    started = [e for _, e in events if isinstance(e, SpeechStarted)]
    ended = [e for _, e in events if isinstance(e, SpeechEnded)]
    assert started == [SpeechStarted(pytest.approx(0.32))]  # type: ignore[arg-type]
    assert len(ended) == 1 and ended[0].speech_s == pytest.approx(0.64)
    assert endpointer.last_speech_end_s == pytest.approx(0.96)
    assert ended[0].trailing_silence_s == pytest.approx(0.8)  # 25 windows of 32 ms


def test_reset_forgets_the_utterance_but_not_the_stream_time() -> None:
    endpointer = Endpointer()
    feed(endpointer, speech(0.5))
    assert endpointer.in_speech
    endpointer.reset()
    assert not endpointer.in_speech
    assert endpointer.last_speech_end_s is None
    assert endpointer.now_s == pytest.approx(0.5)
    assert feed(endpointer, quiet(2.0)) == []  # no end for the forgotten utterance
    events = feed(endpointer, speech(0.2))
    assert approx_events(events) == [(2.7, SpeechStarted(2.5))]


def test_events_always_follow_the_grammar() -> None:
    """S (P S)* P? E for every utterance, times never go backwards, for random input."""
    rng = random.Random(20240611)
    grammar = re.compile(r"(S(PS)*P?E)*(S(PS)*P?)?")
    LETTER = {SpeechStarted: "S", PauseDetected: "P", SpeechEnded: "E"}
    for _ in range(200):
        endpointer = Endpointer(EndpointSettings(max_utterance_s=rng.choice([2.0, 20.0])))
        letters, last_at = "", -1.0
        for _ in range(300):
            window = rng.choice([0.02, 0.032, 0.05])
            probability = rng.choice([0.0, 0.2, 0.4, 0.6, 0.95, rng.random()])
            for event in endpointer.update(window, probability):
                letters += LETTER[type(event)]
                if isinstance(event, SpeechStarted):
                    assert last_at <= event.at_s <= endpointer.now_s
                    last_at = event.at_s
            assert endpointer.in_speech == (letters.rfind("S") > letters.rfind("E"))
        assert grammar.fullmatch(letters), letters


def test_events_with_early_pauses_always_come_in_order() -> None:
    """S ((e|eP|P) S)* (e|eP|P)? E: every pause is followed by speech going on or the end."""
    rng = random.Random(20240612)
    grammar = re.compile(r"(S((eP?|P)S)*(eP?|P)?E)*(S((eP?|P)S)*(eP?|P)?)?")
    LETTER = {SpeechStarted: "S", EarlyPause: "e", PauseDetected: "P", SpeechEnded: "E"}
    for _ in range(200):
        settings = EndpointSettings(
            early_pause_s=rng.choice([0.05, 0.1, 0.2]),
            max_utterance_s=rng.choice([2.0, 20.0]),
        )
        endpointer = Endpointer(settings)
        letters, last_at = "", -1.0
        for _ in range(300):
            window = rng.choice([0.02, 0.032, 0.05])
            probability = rng.choice([0.0, 0.2, 0.4, 0.6, 0.95, rng.random()])
            for event in endpointer.update(window, probability):
                letters += LETTER[type(event)]
                if isinstance(event, SpeechStarted):
                    assert last_at <= event.at_s <= endpointer.now_s
                    last_at = event.at_s
            assert endpointer.in_speech == (letters.rfind("S") > letters.rfind("E"))
        assert grammar.fullmatch(letters), letters


@pytest.mark.parametrize(
    ("seconds", "probability"),
    [(-0.02, 0.5), (math.nan, 0.5), (math.inf, 0.5), (0.02, 1.5), (0.02, -0.1), (0.02, math.nan)],
)
def test_bad_windows_are_rejected(seconds: float, probability: float) -> None:
    with pytest.raises(ValueError):
        Endpointer().update(seconds, probability)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"speech_threshold": 0.3, "silence_threshold": 0.5},
        {"speech_threshold": 1.2},
        {"pause_s": 1.0, "end_silence_s": 0.8},
        {"pause_s": 0.0},
        {"min_speech_s": -0.1},
        {"max_utterance_s": 0.1},
        {"early_pause_s": 0.25},
        {"early_pause_s": 0.0},
    ],
)
def test_bad_settings_fail_fast(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="bad endpoint settings"):
        EndpointSettings(**kwargs)


# --- backchannels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "угу",
        "Ага.",
        "да",
        "да-да",
        "Да, да, да!",
        "мм",
        "Ммммм...",
        "угууу",
        "ну",
        "так",
        "хорошо",
        "понятно",
        "ясно",
        "ок",
        "окей",
        "ну да",
        "угу понятно",
        "ага, хорошо",
        "ну ясно",
        "так-так",
        "да да да да да да",
        "ЯСНО",
        "ну да, конечно",
        "ага ага угу",
    ],
)
def test_backchannels_keep_the_bot_speaking(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text",
    [
        "нет подождите",
        "нет",
        "оператор",
        "а сколько стоит",
        "стоп",
        "подождите",
        "да но у меня вопрос",
        "алло",
        "соедините с оператором",
        "ну да хорошо понятно ясно",  # five different words: a sentence, not a murmur
        "да 2",
        "ёлки",
        "хорошо а как оплатить",
    ],
)
def test_real_words_are_not_backchannels(text: str) -> None:
    assert not is_backchannel(text)


def test_stretched_words_and_yo() -> None:
    assert is_backchannel("Ну-у, ясно... угу!")
    assert is_backchannel("Та-а-ак. Ладно")
    assert not is_backchannel("ещё вопрос")
    assert not is_backchannel("еще вопрос")


def test_words_of_any_script_are_not_backchannel() -> None:
    assert not is_backchannel("인터넷이 안 돼요")
    assert not is_backchannel("hello operator")
