"""Staffing per hour of the day and the lost-revenue estimate as reports (rows, JSON, CSV): the
observed demand (Reports.demand_by_hour) and lost calls (Reports.lost_calls) put through
voicebot.staffing (Erlang C; lost calls x conversion x deal value)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from voicebot.reports.model import Demand, LostCalls
from voicebot.staffing import ServiceTarget, lost_revenue, staffing_plan
from voicebot.wait_estimate import DEFAULT_HANDLE_S

LostCount = Literal["not_recovered", "total"]
LOST_COUNTS: Final[tuple[LostCount, ...]] = ("not_recovered", "total")


@dataclass(frozen=True)
class StaffingRow:
    """One local hour of the day: what was observed and the operators it needs."""

    hour: int
    hours_observed: int
    offered: int  # queue entries in these hours of the period
    arrivals_per_hour: float
    handled: int
    mean_handle_s: float | None  # observed; None: not observed
    handle_s: float  # used: observed, else the default
    traffic_erlangs: float
    agents: int  # on calls, by Erlang C
    scheduled: int  # with shrinkage
    service_level: float
    mean_wait_s: float
    occupancy: float


@dataclass(frozen=True)
class Staffing:
    """Operators needed per local hour of the day for a service level target."""

    tz: str
    answer_within_s: float
    share: float
    shrinkage: float
    default_handle_s: float
    peak_scheduled: int
    scheduled_hours_per_day: int  # sum of `scheduled` over the 24 hours
    rows: tuple[StaffingRow, ...]


@dataclass(frozen=True)
class LostRevenueEstimate:
    """The revenue lost calls probably cost; `counted` says which lost calls are counted."""

    counted: str  # a LOST_COUNTS value
    lost_total: int
    not_recovered: int
    lost_calls: int
    conversion_rate: float
    average_deal_value: float
    lost_deals: float
    lost_revenue: float


def staffing(
    demand: Demand, target: ServiceTarget, *, default_handle_s: float = DEFAULT_HANDLE_S
) -> Staffing:
    """The staffing plan for the observed demand (hours without a handle time: the default)."""
    plan = staffing_plan(demand.rows, target, default_handle_s=default_handle_s)
    rows = tuple(
        StaffingRow(
            hour=d.hour,
            hours_observed=d.hours_observed,
            offered=d.offered,
            arrivals_per_hour=d.arrivals_per_hour,
            handled=d.handled,
            mean_handle_s=d.mean_handle_s,
            handle_s=s.handle_s,
            traffic_erlangs=s.traffic_erlangs,
            agents=s.agents,
            scheduled=s.scheduled,
            service_level=s.service_level,
            mean_wait_s=s.mean_wait_s,
            occupancy=s.occupancy,
        )
        for d, s in zip(demand.rows, plan, strict=True)
    )
    return Staffing(
        tz=demand.tz,
        answer_within_s=target.answer_within_s,
        share=target.share,
        shrinkage=target.shrinkage,
        default_handle_s=default_handle_s,
        peak_scheduled=max((r.scheduled for r in rows), default=0),
        scheduled_hours_per_day=sum(r.scheduled for r in rows),
        rows=rows,
    )


def lost_revenue_estimate(
    lost: LostCalls, conversion_rate: float, average_deal_value: float, counted: LostCount
) -> LostRevenueEstimate:
    """Lost calls (all, or those nobody reached since) x conversion rate x deal value."""
    n = lost.not_recovered if counted == "not_recovered" else lost.total
    value = lost_revenue(n, conversion_rate, average_deal_value)
    return LostRevenueEstimate(
        counted=counted,
        lost_total=lost.total,
        not_recovered=lost.not_recovered,
        lost_calls=n,
        conversion_rate=conversion_rate,
        average_deal_value=average_deal_value,
        lost_deals=value.lost_deals,
        lost_revenue=value.lost_revenue,
    )
