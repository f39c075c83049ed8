"""Staffing with Erlang C against published worked examples, and the lost-revenue estimate.

Published values used:
- Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example": 100 calls per
  half hour, AHT 180 s (10 erlangs), 80 % in 20 s. P(wait) with 11/12/13/14 agents 68.21 %,
  44.94 %, 28.53 %, 17.41 %; service level with 14 agents 88.84 %, ASA 7.8 s: 14 agents.
- Westbay Engineers (erlang.com), "The Erlang-C formula": 360 calls per half hour, 4 minutes,
  55 agents, 15 s target: 48 erlangs, P(wait) 23.87 %, ASA 8.18 s, service level 84.58 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from voicebot.staffing import ServiceTarget, lost_revenue, staff_hour, staffing_plan
from voicebot.wait_estimate import erlang_c


@pytest.mark.parametrize(
    ("agents", "wait_probability"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741)]
)
def test_erlang_c_table_for_ten_erlangs(agents: int, wait_probability: float) -> None:
    """P(wait) for 10 erlangs as tabulated."""
    assert erlang_c(10.0, agents) == pytest.approx(wait_probability, abs=5e-5)


def test_the_call_centre_helper_example_needs_fourteen() -> None:
    """200 calls an hour of 180 s at 80/20: 14 agents, 88.8 % in 20 s, ASA 7.8 s."""
    hour = staff_hour(10, 200.0, 180.0, ServiceTarget(20.0, 0.8))
    assert hour.traffic_erlangs == pytest.approx(10.0)
    assert hour.agents == 14
    assert hour.service_level == pytest.approx(0.8884, abs=5e-5)
    assert hour.mean_wait_s == pytest.approx(7.84, abs=0.01)
    assert hour.occupancy == pytest.approx(10 / 14)
    # 13 agents give 79.56 %: just short of the target, so 14 is the fewest.
    assert staff_hour(10, 200.0, 180.0, ServiceTarget(20.0, 0.795)).agents == 13


def test_the_westbay_example() -> None:
    """720 calls an hour of 240 s: 55 agents answer 84.58 % within 15 s, P(wait) 23.87 %."""
    hour = staff_hour(9, 720.0, 240.0, ServiceTarget(15.0, 0.8458))
    assert hour.traffic_erlangs == pytest.approx(48.0)
    assert hour.agents == 55
    assert hour.wait_probability == pytest.approx(0.2387, abs=5e-5)
    assert hour.service_level == pytest.approx(0.8458, abs=1e-4)  # 0.845883 here
    assert hour.mean_wait_s == pytest.approx(8.18, abs=0.01)
    assert staff_hour(9, 720.0, 240.0, ServiceTarget(15.0, 0.846)).agents == 56


@dataclass(frozen=True)
class _Demand:
    hour: int
    arrivals_per_hour: float
    mean_handle_s: float | None


def test_a_plan_per_hour_with_shrinkage_and_defaults() -> None:
    """Night hours need nobody; an hour with no observed handle time uses the default; shrinkage
    raises the scheduled count."""
    demand = [_Demand(3, 0.0, None), _Demand(10, 200.0, 180.0), _Demand(11, 200.0, None)]
    plan = staffing_plan(demand, ServiceTarget(20.0, 0.8, shrinkage=0.3), default_handle_s=180.0)
    assert [(h.hour, h.agents, h.scheduled) for h in plan] == [
        (3, 0, 0),
        (10, 14, 20),
        (11, 14, 20),
    ]
    assert plan[0].service_level == 1.0
    busier = staff_hour(12, 400.0, 180.0)
    assert busier.agents > 14 and busier.occupancy > 10 / 14  # economies of scale
    with pytest.raises(ValueError, match="shrinkage"):
        staff_hour(1, 10.0, 100.0, ServiceTarget(shrinkage=1.0))
    with pytest.raises(ValueError):
        staff_hour(1, 10.0, 0.0)


def test_lost_revenue() -> None:
    """lost x conversion x deal value; parameters are checked."""
    lost = lost_revenue(120, 0.25, 4000.0)
    assert (lost.lost_deals, lost.lost_revenue) == (30.0, 120_000.0)
    assert lost_revenue(0, 0.5, 100.0).lost_revenue == 0.0
    with pytest.raises(ValueError):
        lost_revenue(10, 1.5, 100.0)
