"""The wait estimate: the observed-rate model, Erlang B/C against table values, the Russian phrase,
and an unbiasedness check on a small seeded queue simulation."""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections import deque

import pytest

from voicebot.queue import WaitInputs
from voicebot.wait_estimate import (
    agents_for_service_level,
    blended_handle_time,
    erlang_b,
    erlang_c,
    erlang_c_mean_wait,
    estimate_wait,
    service_level,
    wait_phrase,
)

# --------------------------------------------------------------------------- observed rate


def test_no_operator_online_is_unknown() -> None:
    estimate = estimate_wait(WaitInputs(ahead=3, operators_available=0, operators_busy=0))
    assert estimate.seconds is None
    assert estimate.method == "no_operators"
    assert wait_phrase(estimate.seconds) == "Все операторы сейчас заняты."


def test_a_free_operator_left_for_this_caller_means_no_wait() -> None:
    estimate = estimate_wait(WaitInputs(ahead=1, operators_available=2, operators_busy=3))
    assert estimate.seconds == 0.0
    assert estimate.method == "operator_free"


@pytest.mark.parametrize(
    ("ahead", "available", "busy", "expected"),
    [
        (0, 0, 1, 300.0),  # (0 + 1) * 300 / 1
        (0, 0, 3, 100.0),
        (5, 0, 3, 600.0),  # (5 + 1) * 300 / 3
        (2, 2, 2, 75.0),  # two idle take two ahead: (2 - 2 + 1) * 300 / 4
        (4, 1, 4, 240.0),  # (4 - 1 + 1) * 300 / 5
    ],
)
def test_observed_rate_formula(ahead: int, available: int, busy: int, expected: float) -> None:
    samples = (300.0,) * 1000  # many samples: the blend is the observed mean
    estimate = estimate_wait(WaitInputs(ahead, available, busy, samples))
    assert estimate.method == "observed_rate"
    assert estimate.seconds == pytest.approx(expected, rel=0.01)


def test_handle_time_blends_few_samples_with_the_default() -> None:
    assert blended_handle_time([]) == 180.0
    assert blended_handle_time([], default_handle_s=240.0) == 240.0
    assert blended_handle_time([300.0] * 5) == pytest.approx(240.0)  # halfway
    assert blended_handle_time([300.0] * 50) == pytest.approx((50 * 300 + 5 * 180) / 55)
    # Not positive, not finite, or a call left open for hours: ignored.
    assert blended_handle_time([math.nan, -5.0, 0.0, 10 * 3600.0, math.inf]) == 180.0
    few = estimate_wait(WaitInputs(0, 0, 1, ()), default_handle_s=200.0)
    assert few.seconds == 200.0


# --------------------------------------------------------------------------- Erlang


def erlang_c_direct(traffic: float, agents: int) -> float:
    """Erlang C from the textbook sum, in logarithms (no overflow), to cross-check the recursion."""
    logs = [k * math.log(traffic) - math.lgamma(k + 1) for k in range(agents)]
    log_top = (
        agents * math.log(traffic) - math.lgamma(agents + 1) + math.log(agents / (agents - traffic))
    )
    peak = max([*logs, log_top])
    top = math.exp(log_top - peak)
    return top / (sum(math.exp(x - peak) for x in logs) + top)


def test_erlang_b_against_the_published_table() -> None:
    # Erlang B table, 10 trunks: 4.461 E at 1 % blocking, 5.084 E at 2 %, 6.216 E at 5 %.
    assert erlang_b(4.461, 10) == pytest.approx(0.01, abs=5e-5)
    assert erlang_b(5.084, 10) == pytest.approx(0.02, abs=5e-5)
    assert erlang_b(6.216, 10) == pytest.approx(0.05, abs=5e-5)
    assert erlang_b(2.0, 5) == pytest.approx(0.0367, abs=5e-5)
    assert erlang_b(1.0, 1) == 0.5


def test_erlang_c_against_published_values() -> None:
    # Wolfram's ErlangC basic example: 3 servers, 2 erlangs -> 4/9.
    assert erlang_c(2.0, 3) == pytest.approx(4 / 9, rel=1e-12)
    # The textbook 120 calls/h of 3 min on 10 servers (6 E): "about 0.10" from the curve.
    assert erlang_c(6.0, 10) == pytest.approx(0.1013, abs=5e-4)
    # The classic worked example: 360 calls per half hour of 4 min (48 E), 55 agents.
    traffic = 360 / 1800 * 240
    assert traffic == pytest.approx(48.0)
    assert erlang_c(traffic, 55) == pytest.approx(0.2387, abs=5e-4)
    assert erlang_c_mean_wait(traffic, 55, 240.0) == pytest.approx(8.18, abs=0.01)
    assert service_level(traffic, 55, 240.0, 15.0) == pytest.approx(0.8459, abs=5e-4)
    assert service_level(traffic, 55, 240.0, 20.0) == pytest.approx(0.8668, abs=5e-4)


@pytest.mark.parametrize(
    ("traffic", "agents"), [(0.5, 1), (2.0, 3), (9.5, 10), (30.0, 40), (48.0, 55), (500.0, 560)]
)
def test_erlang_c_recursion_matches_the_direct_sum(traffic: float, agents: int) -> None:
    assert erlang_c(traffic, agents) == pytest.approx(erlang_c_direct(traffic, agents), rel=1e-9)


def test_erlang_c_edges() -> None:
    assert erlang_c(0.0, 3) == 0.0
    assert erlang_c(5.0, 5) == 1.0  # unstable: everyone waits
    assert erlang_c_mean_wait(5.0, 4, 180.0) == math.inf
    assert erlang_c_mean_wait(0.0, 4, 180.0) == 0.0
    assert service_level(5.0, 5, 180.0, 20.0) == 0.0
    # Large groups: no factorial overflow (the value is cross-checked in logarithms above).
    assert 0.0 < erlang_c(500.0, 560) < 0.01


def test_agents_for_service_level() -> None:
    # 48 E at 240 s: 54 agents give 81.7 % in 20 s, 53 only 75.2 %.
    assert agents_for_service_level(360 / 1800, 240.0, 20.0, 0.8) == 54
    assert service_level(48.0, 53, 240.0, 20.0) < 0.8 <= service_level(48.0, 54, 240.0, 20.0)
    assert agents_for_service_level(0.0, 240.0, 20.0, 0.8) == 0
    assert agents_for_service_level(1 / 3600, 240.0, 20.0, 0.0) == 1  # stable needs N > A
    with pytest.raises(ValueError):
        agents_for_service_level(0.1, 240.0, 20.0, 1.0)


# --------------------------------------------------------------------------- the phrase


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [
        (None, "Все операторы сейчас заняты."),
        (math.nan, "Все операторы сейчас заняты."),
        (-3.0, "Ожидание меньше минуты."),
        (0.0, "Ожидание меньше минуты."),
        (44.0, "Ожидание меньше минуты."),
        (45.0, "Ожидание около минуты."),
        (89.0, "Ожидание около минуты."),
        (90.0, "Ожидание около двух минут."),
        (130.0, "Ожидание около двух минут."),
        (150.0, "Ожидание около трёх минут."),
        (240.0, "Ожидание около четырёх минут."),
        (300.0, "Ожидание около пяти минут."),
        (420.0, "Ожидание около пяти минут."),
        (460.0, "Ожидание около десяти минут."),
        (900.0, "Ожидание около пятнадцати минут."),
        (1200.0, "Ожидание около двадцати минут."),
        (1500.0, "Ожидание около двадцати пяти минут."),
        (1700.0, "Ожидание около получаса."),
        (1800.0, "Ожидание больше получаса."),
        (7200.0, "Ожидание больше получаса."),
    ],
)
def test_wait_phrase(seconds: float | None, phrase: str) -> None:
    assert wait_phrase(seconds) == phrase
    assert not any(ch.isdigit() for ch in phrase)


# --------------------------------------------------------------------------- unbiased on a queue

OPERATORS, HANDLE_S = 4, 200.0
RATE = 0.9 * OPERATORS / HANDLE_S  # 90 % occupancy: callers often queue several deep


def simulate_queue(seed: int, window: int, calls: int = 20000) -> list[tuple[float, float]]:
    """A FIFO M/M/n queue: (estimate, actual wait) for every caller who found no operator free.

    Event-driven and seeded: no wall clock. Operators take the next caller the moment they are
    free; the estimate is made on arrival from the inputs the store would give, with the last
    `window` handle times (0: none, so the estimate uses the default, here the true mean).
    """
    rng = random.Random(seed)
    events: list[tuple[float, int, str, float]] = []  # (time, order, kind, handle time)
    waiting: deque[tuple[float, float | None]] = deque()  # (arrived, estimate)
    closed: deque[float] = deque(maxlen=window)
    free, counter, t = OPERATORS, 0, 0.0
    results: list[tuple[float, float]] = []
    for _ in range(calls):
        t += rng.expovariate(RATE)
        counter += 1
        heapq.heappush(events, (t, counter, "arrive", 0.0))
    while events:
        now, _, kind, handled = heapq.heappop(events)
        if kind == "end":
            closed.append(handled)
            free += 1
        else:
            inputs = WaitInputs(len(waiting), free, OPERATORS - free, tuple(reversed(closed)))
            announced = estimate_wait(inputs, default_handle_s=HANDLE_S).seconds
            waiting.append((now, announced if free == 0 else None))
        while free and waiting:
            arrived, estimate = waiting.popleft()
            free -= 1
            handle = rng.expovariate(1 / HANDLE_S)
            counter += 1
            heapq.heappush(events, (now + handle, counter, "end", handle))
            if estimate is not None:
                results.append((estimate, now - arrived))
    return results


def relative_bias(estimates: list[float], actuals: list[float]) -> float:
    """(mean estimate - mean actual) / mean actual."""
    mean_actual = statistics.fmean(actuals)
    return (statistics.fmean(estimates) - mean_actual) / mean_actual


def test_estimate_is_unbiased_on_a_simulated_queue() -> None:
    pairs = simulate_queue(seed=7, window=0)
    assert len(pairs) > 10000
    estimates = [e for e, _ in pairs]
    actuals = [a for _, a in pairs]
    mean_actual = statistics.fmean(actuals)
    assert mean_actual > 300.0  # a real queue, not trivially short waits
    assert abs(relative_bias(estimates, actuals)) < 0.03
    # The estimate knows the position: much better than telling everyone the mean.
    mae = statistics.fmean(abs(e - a) for e, a in pairs)
    spread = statistics.fmean(abs(a - mean_actual) for a in actuals)
    assert mae < 0.7 * spread
    # Callers announced longer waits do wait longer.
    short = [a for e, a in pairs if e <= 100]
    long = [a for e, a in pairs if e >= 600]
    assert statistics.fmean(long) > 4 * statistics.fmean(short)


def test_plausible_wrong_formulas_miss_the_tolerance() -> None:
    """The unbiasedness check can fail: k * H / n or (k + 1) * H / (n - 1) are off by far more."""
    pairs = simulate_queue(seed=7, window=0)
    actuals = [a for _, a in pairs]
    without_self = [e - HANDLE_S / OPERATORS for e, _ in pairs]
    one_operator_less = [e * OPERATORS / (OPERATORS - 1) for e, _ in pairs]
    assert relative_bias(without_self, actuals) < -0.06
    assert relative_bias(one_operator_less, actuals) > 0.2


def test_recent_handle_times_overestimate_a_little_under_congestion() -> None:
    """With the store's last 50 handle times the estimate runs about 5 % long: queues are long
    right after a run of long calls, and those calls inflate the observed mean."""
    pairs = simulate_queue(seed=7, window=50)
    bias = relative_bias([e for e, _ in pairs], [a for _, a in pairs])
    assert 0.0 < bias < 0.10
