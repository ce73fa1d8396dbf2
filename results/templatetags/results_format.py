"""How the results pages write rates, differences and p-values."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def rate(value: Any, digits: int = 1) -> str:
    """0.1234 -> "12.3 %"; no rate (nothing to divide by) -> "—"."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def pp(value: Any) -> str:
    """A difference of rates in percentage points: 0.021 -> "+2.1 pp"."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:+.1f} pp"


@register.filter
def pvalue(value: Any) -> str:
    if value is None or value == "":
        return "—"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def ms(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):,.0f} ms" if value >= 10 else f"{float(value):.1f} ms"
