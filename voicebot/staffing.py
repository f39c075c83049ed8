"""Staffing and lost revenue from the reports (issue 7): pure functions, no database.

Staffing: for each local hour of the day, the observed queue arrival rate (calls per hour) and
mean operator handle time give the offered traffic A = rate x handle time in erlangs; the number
of operators is the fewest N meeting the service level target (e.g. 80 % answered within 20 s)
under Erlang C (voicebot.wait_estimate: M/M/N, no abandonment, callers wait as long as needed;
abandonment makes real queues shorter, so Erlang C errs towards more operators). Shrinkage
(breaks, training, absence) is applied on top: scheduled = ceil(N / (1 - shrinkage)).

Lost revenue: lost calls x conversion rate x average deal value, all three editable. Which lost
calls to count is the caller's choice: `LostCalls.not_recovered` (never reached later by a call
or callback) is the conservative figure, `LostCalls.total` the upper one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from voicebot.wait_estimate import (
    DEFAULT_HANDLE_S,
    agents_for_service_level,
    erlang_c,
    erlang_c_mean_wait,
    service_level,
)

__all__ = [
    "HourDemand",
    "HourStaffing",
    "LostRevenue",
    "ServiceTarget",
    "lost_revenue",
    "staff_hour",
    "staffing_plan",
]


@dataclass(frozen=True)
class ServiceTarget:
    """Answer `share` of calls within `answer_within_s`; `shrinkage` of paid time is not on calls."""

    answer_within_s: float = 20.0
    share: float = 0.8
    shrinkage: float = 0.0


class HourDemand(Protocol):
    """One hour of the day's demand (voicebot.reports.DemandRow fits)."""

    @property
    def hour(self) -> int:
        """Local hour of the day, 0-23."""
        ...

    @property
    def arrivals_per_hour(self) -> float:
        """Calls offered to operators per hour."""
        ...

    @property
    def mean_handle_s(self) -> float | None:
        """Mean operator handle time in seconds (None: not observed)."""
        ...


@dataclass(frozen=True)
class HourStaffing:
    """Operators needed in one hour and what they would achieve."""

    hour: int
    arrivals_per_hour: float
    handle_s: float
    traffic_erlangs: float
    agents: int  # on calls, by Erlang C
    scheduled: int  # with shrinkage
    wait_probability: float
    service_level: float
    mean_wait_s: float
    occupancy: float


@dataclass(frozen=True)
class LostRevenue:
    """The revenue the lost calls probably cost."""

    lost_calls: int
    conversion_rate: float
    average_deal_value: float
    lost_deals: float
    lost_revenue: float


def staff_hour(
    hour: int,
    arrivals_per_hour: float,
    handle_s: float,
    target: ServiceTarget | None = None,
) -> HourStaffing:
    """Operators needed for one hour's arrivals and handle time."""
    target = target or ServiceTarget()
    if arrivals_per_hour < 0 or handle_s <= 0:
        raise ValueError("arrivals must be >= 0 and the handle time > 0")
    if not 0.0 <= target.shrinkage < 1.0:
        raise ValueError("shrinkage must be in [0, 1)")
    rate = arrivals_per_hour / 3600.0
    traffic = rate * handle_s
    agents = agents_for_service_level(rate, handle_s, target.answer_within_s, target.share)
    if agents == 0:
        return HourStaffing(hour, arrivals_per_hour, handle_s, 0.0, 0, 0, 0.0, 1.0, 0.0, 0.0)
    return HourStaffing(
        hour=hour,
        arrivals_per_hour=arrivals_per_hour,
        handle_s=handle_s,
        traffic_erlangs=traffic,
        agents=agents,
        scheduled=math.ceil(agents / (1.0 - target.shrinkage) - 1e-9),
        wait_probability=erlang_c(traffic, agents),
        service_level=service_level(traffic, agents, handle_s, target.answer_within_s),
        mean_wait_s=erlang_c_mean_wait(traffic, agents, handle_s),
        occupancy=traffic / agents,
    )


def staffing_plan(
    demand: Sequence[HourDemand],
    target: ServiceTarget | None = None,
    *,
    default_handle_s: float = DEFAULT_HANDLE_S,
) -> tuple[HourStaffing, ...]:
    """Operators per hour of the day; hours without an observed handle time use the default."""
    return tuple(
        staff_hour(
            d.hour,
            d.arrivals_per_hour,
            d.mean_handle_s if d.mean_handle_s and d.mean_handle_s > 0 else default_handle_s,
            target,
        )
        for d in demand
    )


def lost_revenue(lost_calls: int, conversion_rate: float, average_deal_value: float) -> LostRevenue:
    """lost calls x conversion rate (0-1) x average deal value."""
    if lost_calls < 0 or average_deal_value < 0 or not 0.0 <= conversion_rate <= 1.0:
        raise ValueError("lost calls and deal value must be >= 0, conversion in [0, 1]")
    deals = lost_calls * conversion_rate
    return LostRevenue(
        lost_calls, conversion_rate, average_deal_value, deals, deals * average_deal_value
    )
