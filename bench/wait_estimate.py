"""Accuracy of the announced wait on simulated days of calls (voicebot.wait_estimate).

Run from the repository root:  .venv/bin/python bench/wait_estimate.py [--days N] [--seed S]

A day of one topic's queue, 08:00-22:00. A forecast of calls per hour with a late-morning and
an evening peak; each day's real volume is the forecast times a random factor (forecasts are
wrong), arrivals are Poisson within each hour, handle times lognormal (mean 240 s, cv 0.66);
15 % of callers have a priority (repeat callers 1, VIP 2) and are served first. The staffing
plan gives each hour the fewest operators that answer 80 % of the forecast calls in 60 s
(Erlang C, `agents_for_service_level`); each planned operator is absent in a given hour with
probability 10 % (breaks, sick days), so some hours run overloaded. An operator who ends a call,
or sees a call arrive while idle, takes the next entry after a reaction of 2-10 s; operators
above the next hour's staff leave after their call. Callers hang up after a lognormal patience
(mean 6 min) in the main scenario; the second scenario has nobody hang up.

At every enqueue the estimate is made from what the store would report (entries served before
this one, operators available and busy, the last 50 handle times of the past two hours) and
compared with the actual wait of the callers who were served:
- observed rate: `estimate_wait`, the model of voicebot/wait_estimate.py;
- Erlang C ASA: the mean wait over all calls from the forecast rate of the hour and the
  operators online (state-free: everyone in the hour hears the same);
- Erlang C | state: 0 if an operator is free, else Erlang C's mean wait of a call that waits,
  H / (N - A).
Erlang C has no answer when N <= A (counted as unknown). Announcement updates: waiting callers
are re-estimated every 60 s and compared with their remaining wait.

Columns: MAE and median absolute error in seconds, bias = mean(estimate - actual), the share
within ±60 s, and the share whose announced phrase (`wait_phrase`) is the one the actual wait
would have given.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from voicebot.queue import WaitInputs
from voicebot.wait_estimate import (
    agents_for_service_level,
    blended_handle_time,
    erlang_c_mean_wait,
    estimate_wait,
    wait_phrase,
)

OPEN_HOUR, CLOSE_HOUR = 8, 22
# Forecast calls per hour (a late-morning peak, a lunch dip, an evening peak).
FORECAST = {
    8: 40, 9: 90, 10: 140, 11: 170, 12: 160, 13: 120, 14: 115,
    15: 120, 16: 135, 17: 160, 18: 130, 19: 85, 20: 55, 21: 30,
}  # fmt: skip
HANDLE_MEAN_S = 240.0
HANDLE_SIGMA = 0.6  # lognormal shape: cv = sqrt(exp(sigma^2) - 1) = 0.66
PRIORITIES = ((0, 0.85), (1, 0.10), (2, 0.05))
DAY_FACTOR_SIGMA = 0.12  # the day's volume against the forecast
ABSENCE = 0.10  # chance a planned operator is missing in an hour
REACTION_S = (2.0, 10.0)
PATIENCE_MEAN_S = 360.0
PATIENCE_SIGMA = 0.8
UPDATE_EVERY_S = 60.0
HANDLE_WINDOW_S = 2 * 3600.0
HANDLE_LIMIT = 50
PLAN_ANSWER_S, PLAN_SHARE = 60.0, 0.8


@dataclass(eq=False)
class Caller:
    """A call in the simulation (mutable simulation state)."""

    seq: int
    arrived: float
    priority: int
    handle_s: float
    patience_s: float
    taken: float | None = None
    abandoned: bool = False


@dataclass(eq=False)
class Agent:
    """An operator in the simulation: idle, reacting (about to take a call), busy or off."""

    state: str = "idle"
    leaving: bool = False


@dataclass(frozen=True)
class Sample:
    """One estimate and what happened."""

    hour: int
    priority: int
    load: float  # the hour's occupancy: its calls * mean handle / (3600 * operators present)
    ahead: int  # entries served before this caller when the estimate was made
    method: str  # of the observed-rate estimate
    observed: float | None
    erlang_asa: float | None
    erlang_state: float | None
    actual: float | None  # None: the caller hung up first
    update: bool  # a re-estimate while waiting (against the remaining wait)


Estimates = tuple[int, str, float | None, float | None, float | None]


@dataclass
class Day:
    """One simulated day: an event-driven queue of a single topic."""

    rng: random.Random
    abandonment: bool
    plan: dict[int, int]
    updates: bool = True
    staff: dict[int, int] = field(default_factory=dict)
    events: list[tuple[float, int, str, object]] = field(default_factory=list)
    queues: dict[int, deque[Caller]] = field(default_factory=dict)
    agents: list[Agent] = field(default_factory=list)
    closed: deque[tuple[float, float]] = field(default_factory=deque)  # (end, handle s)
    counter: int = 0

    def schedule(self, at: float, kind: str, subject: object) -> None:
        """Add an event; the counter keeps equal times in insertion order."""
        self.counter += 1
        heapq.heappush(self.events, (at, self.counter, kind, subject))

    # --- what the store would report

    def waiting(self) -> int:
        """Entries waiting."""
        return sum(len(q) for q in self.queues.values())

    def ahead_of(self, caller: Caller) -> int:
        """Entries served before `caller`: higher priority, or the same and earlier."""
        higher = sum(len(q) for p, q in self.queues.items() if p > caller.priority)
        return higher + self.queues[caller.priority].index(caller)

    def inputs(self, caller: Caller, now: float) -> WaitInputs:
        """The store's WaitInputs for `caller` at `now`."""
        available = sum(1 for a in self.agents if a.state in ("idle", "reacting"))
        busy = sum(1 for a in self.agents if a.state == "busy")
        while self.closed and self.closed[0][0] < now - HANDLE_WINDOW_S:
            self.closed.popleft()
        recent = [h for _, h in itertools.islice(reversed(self.closed), HANDLE_LIMIT)]
        return WaitInputs(self.ahead_of(caller), available, busy, tuple(recent))

    def estimates(self, caller: Caller, now: float) -> Estimates:
        """The three estimates for `caller` at `now`."""
        inputs = self.inputs(caller, now)
        observed = estimate_wait(inputs)
        handle = blended_handle_time(inputs.handle_times_s)
        traffic = FORECAST[min(int(now // 3600), CLOSE_HOUR - 1)] / 3600 * handle
        online = inputs.operators_available + inputs.operators_busy
        asa = erlang_c_mean_wait(traffic, online, handle)
        waiting = None if online <= traffic else handle / (online - traffic)
        state = 0.0 if inputs.operators_available > inputs.ahead else waiting
        erlang = asa if math.isfinite(asa) else None
        return inputs.ahead, observed.method, observed.seconds, erlang, state

    # --- the simulation

    def run(self) -> list[Sample]:
        """Simulate the day; one sample per estimate made."""
        factor = self.rng.lognormvariate(0.0, DAY_FACTOR_SIGMA)
        self.queues = {p: deque() for p, _ in PRIORITIES}
        arrivals: dict[int, int] = {}
        seq = 0
        for hour in range(OPEN_HOUR, CLOSE_HOUR):
            self.staff[hour] = max(
                1, sum(self.rng.random() >= ABSENCE for _ in range(self.plan[hour]))
            )
            self.schedule(hour * 3600.0, "shift", hour)
            rate = FORECAST[hour] * factor / 3600.0
            t = hour * 3600.0 + self.rng.expovariate(rate)
            while t < (hour + 1) * 3600.0:
                seq += 1
                self.schedule(t, "arrive", self.new_caller(seq, t))
                arrivals[hour] = arrivals.get(hour, 0) + 1
                t += self.rng.expovariate(rate)
        made: list[tuple[Caller, float, Estimates, bool]] = []
        while self.events:
            now, _, kind, subject = heapq.heappop(self.events)
            if kind == "shift":
                assert isinstance(subject, int)
                self.shift(self.staff[subject], now)
            elif kind == "arrive":
                assert isinstance(subject, Caller)
                self.queues[subject.priority].append(subject)
                made.append((subject, now, self.estimates(subject, now), False))
                self.dispatch(now)
                if self.abandonment:
                    self.schedule(now + subject.patience_s, "abandon", subject)
                if self.updates:
                    self.schedule(now + UPDATE_EVERY_S, "update", subject)
            elif kind == "update":
                assert isinstance(subject, Caller)
                if subject.taken is None and not subject.abandoned:
                    made.append((subject, now, self.estimates(subject, now), True))
                    self.schedule(now + UPDATE_EVERY_S, "update", subject)
            elif kind == "abandon":
                assert isinstance(subject, Caller)
                if subject.taken is None:
                    subject.abandoned = True
                    self.queues[subject.priority].remove(subject)
            elif kind == "pickup":
                assert isinstance(subject, Agent)
                self.pickup(subject, now)
            elif kind == "end":
                assert isinstance(subject, tuple)
                agent, handle = subject
                self.closed.append((now, handle))
                agent.state = "off" if agent.leaving else "idle"
                self.dispatch(now)
        samples = []
        for caller, made_at, (ahead, method, observed, asa, state), update in made:
            actual = None if caller.taken is None else caller.taken - made_at
            hour = min(int(made_at // 3600), CLOSE_HOUR - 1)
            load = arrivals.get(hour, 0) * HANDLE_MEAN_S / 3600 / self.staff[hour]
            samples.append(
                Sample(
                    hour, caller.priority, load, ahead, method, observed, asa, state, actual, update
                )
            )
        return samples

    def new_caller(self, seq: int, t: float) -> Caller:
        """A caller with a random priority, handle time and patience."""
        draw, priority = self.rng.random(), 0
        for p, share in PRIORITIES:
            if draw < share:
                priority = p
                break
            draw -= share
        mu = math.log(HANDLE_MEAN_S) - HANDLE_SIGMA**2 / 2
        patience_mu = math.log(PATIENCE_MEAN_S) - PATIENCE_SIGMA**2 / 2
        handle = self.rng.lognormvariate(mu, HANDLE_SIGMA)
        return Caller(
            seq, t, priority, handle, self.rng.lognormvariate(patience_mu, PATIENCE_SIGMA)
        )

    def shift(self, target: int, now: float) -> None:
        """The hour's staff: operators join, or the extra ones leave (idle now, busy after)."""
        online = [a for a in self.agents if a.state != "off" and not a.leaving]
        for _ in range(target - len(online)):
            self.agents.append(Agent())
        excess = len(online) - target
        for state in ("idle", "busy"):
            for agent in online:
                if excess > 0 and agent.state == state:
                    agent.leaving = True
                    agent.state = "off" if state == "idle" else state
                    excess -= 1
        self.dispatch(now)

    def dispatch(self, now: float) -> None:
        """Idle operators react to waiting entries (one operator per entry)."""
        reacting = sum(1 for a in self.agents if a.state == "reacting")
        for agent in self.agents:
            if reacting >= self.waiting():
                return
            if agent.state == "idle":
                agent.state = "reacting"
                reacting += 1
                self.schedule(now + self.rng.uniform(*REACTION_S), "pickup", agent)

    def pickup(self, agent: Agent, now: float) -> None:
        """The operator takes the first entry in serving order."""
        for priority in sorted(self.queues, reverse=True):
            if self.queues[priority]:
                caller = self.queues[priority].popleft()
                caller.taken = now
                agent.state = "busy"
                self.schedule(now + caller.handle_s, "end", (agent, caller.handle_s))
                return
        agent.state = "idle"


def staffing_plan() -> dict[int, int]:
    """Operators per hour: the fewest meeting 80 % in 60 s on the forecast (Erlang C)."""
    return {
        hour: agents_for_service_level(calls / 3600, HANDLE_MEAN_S, PLAN_ANSWER_S, PLAN_SHARE)
        for hour, calls in FORECAST.items()
    }


# --------------------------------------------------------------------------- figures

Pick = Callable[[Sample], float | None]
MODELS: tuple[tuple[str, Pick], ...] = (
    ("observed rate", lambda s: s.observed),
    ("Erlang C ASA", lambda s: s.erlang_asa),
    ("Erlang C | state", lambda s: s.erlang_state),
)


@dataclass(frozen=True)
class Score:
    """Error figures of one model on a set of samples."""

    n: int
    mae: float
    median_ae: float
    bias: float
    within_60: float
    phrase_right: float
    unknown: int


def score(samples: Iterable[Sample], pick: Pick) -> Score:
    """MAE, bias (estimate - actual), share within ±60 s, share announced with the right phrase."""
    errors: list[float] = []
    right = unknown = 0
    for s in samples:
        estimate = pick(s)
        if s.actual is None:
            continue
        if estimate is None:
            unknown += 1
            continue
        errors.append(estimate - s.actual)
        right += wait_phrase(estimate) == wait_phrase(s.actual)
    if not errors:
        return Score(0, math.nan, math.nan, math.nan, math.nan, math.nan, unknown)
    return Score(
        len(errors),
        statistics.fmean(abs(e) for e in errors),
        statistics.median(abs(e) for e in errors),
        statistics.fmean(errors),
        sum(abs(e) <= 60 for e in errors) / len(errors),
        right / len(errors),
        unknown,
    )


def print_overall(title: str, samples: list[Sample]) -> None:
    """Wait statistics and the three models' scores."""
    waits = sorted(s.actual for s in samples if s.actual is not None)
    print(f"\n{title}: {len(samples)} estimates, {len(samples) - len(waits)} hung up before taken")
    if not waits:
        return
    print(
        f"  actual wait: mean {statistics.fmean(waits):.0f} s, median {waits[len(waits) // 2]:.0f} s,"
        f" p90 {waits[int(0.9 * len(waits))]:.0f} s, over 60 s {sum(w > 60 for w in waits) / len(waits):.0%}"
    )
    print(
        f"  {'model':<18} {'MAE s':>7} {'MedAE s':>8} {'bias s':>7} {'±60 s':>6} {'phrase':>7} "
        f"{'unknown':>8}"
    )
    for name, pick in MODELS:
        sc = score(samples, pick)
        print(
            f"  {name:<18} {sc.mae:7.1f} {sc.median_ae:8.1f} {sc.bias:+7.1f} {sc.within_60:6.0%} "
            f"{sc.phrase_right:7.0%} {sc.unknown:8d}"
        )


def print_breakdown(
    title: str, samples: list[Sample], key: Callable[[Sample], str], order: list[str]
) -> None:
    """The models' MAE per group."""
    print(f"\n{title}")
    print(
        f"  {'':<10} {'served':>7} {'wait s':>7} {'obs MAE':>8} {'obs bias':>9} {'±60 s':>6} "
        f"{'ErlC MAE':>9} {'ErlC|st MAE':>12}"
    )
    for label in order:
        group = [s for s in samples if key(s) == label and s.actual is not None]
        if not group:
            continue
        obs, asa, state = (score(group, pick) for _, pick in MODELS)
        wait = statistics.fmean(s.actual for s in group if s.actual is not None)
        print(
            f"  {label:<10} {len(group):7d} {wait:7.0f} {obs.mae:8.1f} {obs.bias:+9.1f} "
            f"{obs.within_60:6.0%} {asa.mae:9.1f} {state.mae:12.1f}"
        )


LOAD_BANDS = ((0.7, "<70 %"), (0.8, "70-80 %"), (0.9, "80-90 %"), (1.0, "90-100 %"))


def load_band(s: Sample) -> str:
    """The occupancy band of the sample's hour."""
    return next((label for limit, label in LOAD_BANDS if s.load < limit), ">=100 %")


AHEAD_BANDS = ((1, "0"), (3, "1-2"), (6, "3-5"), (11, "6-10"))


def ahead_band(s: Sample) -> str:
    """The band of the caller's position in the queue."""
    return next((label for limit, label in AHEAD_BANDS if s.ahead < limit), "11+")


def main() -> None:
    """Simulate the days and print the figures."""
    parser = argparse.ArgumentParser(description="Wait-estimate accuracy on simulated days.")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20260601)
    args = parser.parse_args()
    started = time.perf_counter()
    plan = staffing_plan()
    print("Forecast calls / planned operators per hour (80 % answered in 60 s on the forecast):")
    print("  " + "  ".join(f"{h}h {FORECAST[h]}/{plan[h]}" for h in sorted(plan)))
    results: dict[bool, list[Sample]] = {}
    for abandonment in (True, False):
        results[abandonment] = [
            sample
            for day in range(args.days)
            for sample in Day(
                random.Random(args.seed * 1000 + day), abandonment, plan, updates=abandonment
            ).run()
        ]
    main_samples = [s for s in results[True] if not s.update]
    patience = f"callers hang up after {PATIENCE_MEAN_S / 60:.0f} min on average"
    print_overall(f"{args.days} days, {patience}, all served callers", main_samples)
    queued = [s for s in main_samples if s.method == "observed_rate"]
    print_overall("  of them: no operator free on arrival (the caller hears a number)", queued)
    print_overall(f"{args.days} days, nobody hangs up", [s for s in results[False] if not s.update])
    print_overall(
        "  of them: no operator free on arrival",
        [s for s in results[False] if not s.update and s.method == "observed_rate"],
    )
    hours = [f"{h:02d}:00" for h in range(OPEN_HOUR, CLOSE_HOUR)]
    print_breakdown("By hour (main scenario)", main_samples, lambda s: f"{s.hour:02d}:00", hours)
    print_breakdown(
        "By occupancy of the hour (main scenario)",
        main_samples,
        load_band,
        [label for _, label in LOAD_BANDS] + [">=100 %"],
    )
    print_breakdown(
        "By priority, callers who found no operator free (main scenario)",
        queued,
        lambda s: str(s.priority),
        ["0", "1", "2"],
    )
    print_breakdown(
        "By entries ahead, callers who found no operator free (main scenario)",
        queued,
        ahead_band,
        [label for _, label in AHEAD_BANDS] + ["11+"],
    )
    updates = [s for s in results[True] if s.update]
    print_overall("Announcement updates every 60 s while waiting (main scenario)", updates)
    print(f"\n{time.perf_counter() - started:.1f} s for {2 * args.days} simulated days")


if __name__ == "__main__":
    main()
