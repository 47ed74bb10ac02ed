"""Geometry for the server-rendered spend-per-day bar chart (an SVG the costs template draws).

Coordinates are the SVG's user units; the SVG scales to its box keeping its shape, and the CSS
sets the labels' size per screen width, so they stay readable on a phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from studio.spending import Day

WIDTH = 600
PLOT_TOP = 34  # room for the scale's label above the bars
PLOT_BOTTOM = 210
HEIGHT = 250  # room for the dates below
AXIS_LABELS = 5  # at most this many dates under the bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what the bar says on hover


@dataclass(frozen=True)
class Tick:
    x: float
    anchor: str  # SVG text-anchor: the first date starts at its day, the last ends at it
    text: str


@dataclass(frozen=True)
class SpendChart:
    bars: list[Bar]
    ticks: list[Tick]
    peak: str  # the top of the scale, as text
    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM


def short_day(day: date) -> str:
    return f"{day:%b} {day.day}"


def usd(value: Decimal) -> str:
    """Dollars to the cent, or to the hundredth of a cent under a dollar (image prices are small)."""
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}".rstrip("0").rstrip(".") if value else "$0"


def _ticks(days: list[Day], slot: float) -> list[Tick]:
    if not days:
        return []
    last = len(days) - 1
    step = max(1, -(-last // (AXIS_LABELS - 1)))  # ceiling division
    marks = sorted({*range(0, last, step), last})
    if len(marks) > 1 and marks[-1] - marks[-2] < step / 2:
        del marks[-2]  # too close to the last date to fit beside it
    anchors = {0: "start", last: "end"}
    return [Tick((i + 0.5) * slot, anchors.get(i, "middle"), short_day(days[i].day)) for i in marks]


def spend_chart(days: list[Day]) -> SpendChart:
    """One bar per day, scaled to the day with the most spent; a day with nothing spent has no bar."""
    peak = max((d.usd for d in days), default=Decimal(0))
    slot = WIDTH / max(1, len(days))
    plot = PLOT_BOTTOM - PLOT_TOP
    bars = []
    for i, d in enumerate(days):
        if d.usd:
            height = float(d.usd / peak) * plot
            jobs = f"{d.jobs} job{'' if d.jobs == 1 else 's'}"
            bars.append(Bar(i * slot + slot * 0.1, PLOT_BOTTOM - height, slot * 0.8, height,
                            f"{short_day(d.day)}: {usd(d.usd)}, {jobs}"))  # fmt: skip
    span = f"from {days[0].day:%Y-%m-%d} to {days[-1].day:%Y-%m-%d}" if days else ""
    if peak:
        busiest = next(d for d in days if d.usd == peak)
        total = sum((d.usd for d in days), Decimal(0))
        description = (
            f"{usd(total)} in all over {len(days)} days, spent on {len(bars)} of them; "
            f"the most was {usd(peak)}, on {short_day(busiest.day)}."
        )
    else:
        description = f"Nothing was spent in these {len(days)} days."
    return SpendChart(bars, _ticks(days, slot), usd(peak), f"Spend per day {span}", description)
