"""Geometry for the results page's small SVG charts, drawn by templates/results/ (no
JavaScript, no external assets): numbers in, coordinates out."""

from __future__ import annotations

from dataclasses import dataclass

from results.selectors import DayPoint, Funnel, Lift

WIDTH = 640
BAR_AREA = 140


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


def daily_bars(series: list[DayPoint]) -> dict:
    """Offers released (bars) and conversions (darker bars inside) per day."""
    peak = max((p.released for p in series), default=0) or 1
    step = WIDTH / max(len(series), 1)
    width = max(step * 0.8, 1.0)
    released, converted = [], []
    for index, point in enumerate(series):
        x = round(index * step + (step - width) / 2, 2)
        h = round(BAR_AREA * point.released / peak, 2)
        c = round(BAR_AREA * point.conversions / peak, 2)
        day = point.day.isoformat()
        released.append(
            Bar(x, round(BAR_AREA - h, 2), round(width, 2), h, day, f"{point.released:,} released")
        )
        converted.append(
            Bar(
                x,
                round(BAR_AREA - c, 2),
                round(width, 2),
                c,
                day,
                f"{point.conversions:,} converted",
            )
        )
    return {
        "released": released,
        "converted": converted,
        "peak": peak,
        "first": series[0].day if series else None,
        "last": series[-1].day if series else None,
        "width": WIDTH,
        "height": BAR_AREA,
    }


def channel_bars(funnels: list[Funnel]) -> dict:
    """Acceptance and conversion rate per channel, as horizontal bars (percent of 100)."""
    rows = []
    for index, funnel in enumerate(funnels):
        y = index * 34
        acceptance = funnel.acceptance_rate or 0.0
        conversion = funnel.conversion_rate or 0.0
        peak = (
            max(
                (max(f.acceptance_rate or 0.0, f.conversion_rate or 0.0) for f in funnels),
                default=0,
            )
            or 1.0
        )
        rows.append(
            {
                "label": funnel.channel or "(batch dedupe)",
                "y": y,
                "accept_width": round(460 * acceptance / peak, 2),
                "convert_width": round(460 * conversion / peak, 2),
                "accept_label": f"{acceptance:.1%}",
                "convert_label": f"{conversion:.1%}",
            }
        )
    return {"rows": rows, "height": max(len(rows) * 34, 34), "width": WIDTH}


def forest(lifts: list[Lift]) -> dict:
    """Each lift's difference as a dot with its 95 % interval as a line, around zero."""
    measurable = [lift for lift in lifts if lift.result is not None]
    span = max(
        (max(abs(lift.result.ci_low), abs(lift.result.ci_high)) for lift in measurable),
        default=0.0,
    )
    span = max(span, 0.01)
    left, right = 180.0, WIDTH - 20.0
    zero = (left + right) / 2

    def x(value: float) -> float:
        return round(zero + (right - left) / 2 * value / span, 2)

    rows = []
    for index, lift in enumerate(lifts):
        y = index * 26 + 13
        row = {"label": lift.label, "y": y, "text_y": y + 4, "measurable": lift.result is not None}
        if lift.result is not None:
            row.update(
                low=x(lift.result.ci_low),
                high=x(lift.result.ci_high),
                dot=x(lift.result.difference),
                significant=lift.result.significant,
                title=(
                    f"{lift.result.difference * 100:+.1f} pp "
                    f"[{lift.result.ci_low * 100:+.1f}, {lift.result.ci_high * 100:+.1f}], "
                    f"p = {lift.result.p_value:.3g}"
                ),
            )
        else:
            row["title"] = lift.reason
        rows.append(row)
    return {
        "rows": rows,
        "zero": zero,
        "left": left,
        "right": right,
        "height": max(len(rows) * 26, 26),
        "width": WIDTH,
        "span_label": f"±{span * 100:.1f} pp",
    }
