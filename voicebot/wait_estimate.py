"""How long a queued caller will wait, what to tell them, and Erlang C for staffing.

The announced estimate is an observed-rate model of the caller's position, from what the store
reads in one go (voicebot.queue.WaitInputs): k entries of the topic served before this one, a
operators of the topic available, b busy (n = a + b online), and their recent handle times.

Derivation. Handle times are taken as independent with mean H and, for the derivation,
memoryless: the store reports no elapsed times of the calls in progress, and with a
memoryless handle time a call in progress has H left on average whatever it has lasted.
- n = 0: nobody serves the topic now; the wait is unknown (`None`, method "no_operators"),
  and the caller hears «Все операторы сейчас заняты.» rather than a number.
- a > k: after the callers ahead are taken an idle operator is left for this one: 0 s
  (method "operator_free"; only the operator's reaction to the console remains).
- otherwise the a idle operators take the first a callers ahead, then all n operators are busy
  and calls end at the combined rate n / H. This caller is taken at the j-th ending,
  j = k - a + 1, and the j-th event of a Poisson process of rate n / H comes on average at
      W = (k - a + 1) * H / n                              (method "observed_rate")
  With a = 0 this is (k + 1) * H / n: the exact mean wait of a FIFO M/M/n queue given k ahead,
  the conditional quantity that Erlang C's mean wait averages over all arrivals.
The model ignores callers with a higher priority who arrive later and overtake this one (the
estimate runs short), callers ahead who hang up (it runs long) and the operators' reaction
between calls (short, by a few seconds); the estimate is refreshed while the caller waits, which
corrects all three. With H known the estimate is unbiased on a simulated M/M/n queue
(tests/test_wait_estimate.py); with H from the last 50 handle times it runs about 5 % long under
congestion, because queues build up right after runs of long calls, which inflate the recent
mean. A longer window (a few hundred calls) shrinks that bias.

H blends the recent handle times with a default (180 s), weighted as PRIOR_SAMPLES
pseudo-samples: H = (sum(samples) + PRIOR_SAMPLES * default) / (len(samples) + PRIOR_SAMPLES).
With no samples H is the default; with 5 it is halfway; with 50 (the store's limit) 91 % is
observed. Samples that are not positive or exceed MAX_HANDLE_S (a call left open by mistake)
are ignored.

Erlang C (M/M/N, traffic A = arrival rate * handle time in erlangs): the probability an
arriving call waits, C(A, N) = N B / (N - A (1 - B)) with B the Erlang B blocking probability
from the stable recursion B_0 = 1, B_k = A B_{k-1} / (k + A B_{k-1}); the mean wait over all
calls C H / (N - A); the service level 1 - C exp(-(N - A) t / H). Issue 7 reuses these for
staffing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from voicebot.queue import WaitInputs
from voicebot.speakable import cardinal

__all__ = [
    "DEFAULT_HANDLE_S",
    "MAX_HANDLE_S",
    "PRIOR_SAMPLES",
    "WaitEstimate",
    "agents_for_service_level",
    "blended_handle_time",
    "erlang_b",
    "erlang_c",
    "erlang_c_mean_wait",
    "estimate_wait",
    "service_level",
    "wait_phrase",
]

DEFAULT_HANDLE_S: Final = 180.0
PRIOR_SAMPLES: Final = 5.0  # the default handle time weighs as this many observed calls
MAX_HANDLE_S: Final = 2 * 3600.0
_MAX_AGENTS: Final = 100_000


@dataclass(frozen=True)
class WaitEstimate:
    """The expected wait in seconds (None = unknown) and the rule that gave it."""

    seconds: float | None
    method: str  # "observed_rate", "operator_free", "no_operators"


def blended_handle_time(
    samples: Sequence[float], default_handle_s: float = DEFAULT_HANDLE_S
) -> float:
    """The mean handle time: recent samples blended with the default as PRIOR_SAMPLES pseudo-samples."""
    usable = [s for s in samples if math.isfinite(s) and 0.0 < s <= MAX_HANDLE_S]
    return (sum(usable) + PRIOR_SAMPLES * default_handle_s) / (len(usable) + PRIOR_SAMPLES)


def estimate_wait(
    inputs: WaitInputs, *, default_handle_s: float = DEFAULT_HANDLE_S
) -> WaitEstimate:
    """The expected wait of the entry described by `inputs` (the observed-rate model above)."""
    ahead = max(0, inputs.ahead)
    available = max(0, inputs.operators_available)
    online = available + max(0, inputs.operators_busy)
    if online == 0:
        return WaitEstimate(None, "no_operators")
    if available > ahead:
        return WaitEstimate(0.0, "operator_free")
    handle = blended_handle_time(inputs.handle_times_s, default_handle_s)
    return WaitEstimate((ahead - available + 1) * handle / online, "observed_rate")


# --------------------------------------------------------------------------- Erlang C


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Erlang B: the probability that all `agents` are busy with no queue (blocking)."""
    if agents <= 0:
        return 1.0
    if traffic_erlangs <= 0:
        return 0.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic_erlangs * blocking / (k + traffic_erlangs * blocking)
    return blocking


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """Erlang C: the probability that an arriving call waits (1.0 when agents <= traffic)."""
    if traffic_erlangs <= 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    blocking = erlang_b(traffic_erlangs, agents)
    return agents * blocking / (agents - traffic_erlangs * (1.0 - blocking))


def erlang_c_mean_wait(traffic_erlangs: float, agents: int, handle_time_s: float) -> float:
    """The mean wait over all calls (ASA) in seconds; infinite when agents <= traffic."""
    if traffic_erlangs <= 0:
        return 0.0
    if agents <= traffic_erlangs:
        return math.inf
    return erlang_c(traffic_erlangs, agents) * handle_time_s / (agents - traffic_erlangs)


def service_level(
    traffic_erlangs: float, agents: int, handle_time_s: float, target_answer_s: float
) -> float:
    """The share of calls answered within `target_answer_s` (0.0 when agents <= traffic)."""
    if traffic_erlangs <= 0:
        return 1.0
    if agents <= traffic_erlangs:
        return 0.0
    waits = erlang_c(traffic_erlangs, agents)
    return 1.0 - waits * math.exp(-(agents - traffic_erlangs) * target_answer_s / handle_time_s)


def agents_for_service_level(
    arrival_rate: float, handle_time: float, target_answer_s: float, target_share: float
) -> int:
    """The fewest agents answering `target_share` of calls within `target_answer_s` (Erlang C).

    `arrival_rate` is in calls per second and `handle_time` in seconds. No traffic needs no
    agents; a target share of 1.0 or more cannot be met and raises ValueError.
    """
    if not 0.0 <= target_share < 1.0:
        raise ValueError("target_share must be in [0, 1)")
    traffic = arrival_rate * handle_time
    if traffic <= 0:
        return 0
    agents = max(1, math.floor(traffic) + 1)
    while service_level(traffic, agents, handle_time, target_answer_s) < target_share:
        agents += 1
        if agents > _MAX_AGENTS + traffic:
            raise ValueError("the service level cannot be met")  # pragma: no cover
    return agents


# --------------------------------------------------------------------------- the phrase


def wait_phrase(seconds: float | None) -> str:
    """The estimate as a Russian sentence for the voice, rounded the way people say it."""
    if seconds is None or math.isnan(seconds):
        return "Все операторы сейчас заняты."
    minutes = max(0.0, seconds) / 60.0
    if minutes < 0.75:
        return "Ожидание меньше минуты."
    if minutes < 1.5:
        return "Ожидание около минуты."
    if minutes >= 30.0:
        return "Ожидание больше получаса."
    if minutes >= 27.5:
        return "Ожидание около получаса."
    rounded = math.floor(minutes + 0.5) if minutes < 4.5 else 5 * math.floor(minutes / 5 + 0.5)
    return f"Ожидание около {cardinal(rounded, 'gen')} минут."
