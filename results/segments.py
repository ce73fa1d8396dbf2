"""The segments uplift is broken down by: age band, tenure band and products held, each as
of the decision's day. Bands are computed in SQL from threshold dates worked out here for
the day, so the database never does date arithmetic (SQLite and PostgreSQL differ)."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass

UNKNOWN = "unknown"

# (label, lower bound in whole years); the first band has no lower bound.
AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("under 25", 0),
    ("25-34", 25),
    ("35-44", 35),
    ("45-54", 45),
    ("55-64", 55),
    ("65+", 65),
)
TENURE_BANDS: tuple[tuple[str, int], ...] = (
    ("under 1 year", 0),
    ("1-3 years", 1),
    ("3-5 years", 3),
    ("5-10 years", 5),
    ("10+ years", 10),
)
# (label, smallest count); the last band is open-ended.
HOLDINGS_BANDS: tuple[tuple[str, int], ...] = (
    ("0 products", 0),
    ("1 product", 1),
    ("2 products", 2),
    ("3 products", 3),
    ("4+ products", 4),
)

BAND_ORDER: dict[str, tuple[str, ...]] = {
    "age_band": (*(label for label, _ in AGE_BANDS), UNKNOWN),
    "tenure_band": (*(label for label, _ in TENURE_BANDS), UNKNOWN),
    "holdings_band": tuple(label for label, _ in HOLDINGS_BANDS),
}


def years_before(day: datetime.date, years: int) -> datetime.date:
    """The same calendar day ``years`` earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True, slots=True)
class BandSql:
    """A CASE expression over one column, with named parameters (``%(name)s``)."""

    sql: str
    params: dict


def _date_bands(
    column: str, bands: tuple[tuple[str, int], ...], day: datetime.date, prefix: str
) -> BandSql:
    """A person born (or a customer since) after ``day`` minus N years is under N."""
    params: dict = {f"{prefix}_unknown": UNKNOWN, f"{prefix}_last": bands[-1][0]}
    parts = [f"WHEN {column} IS NULL THEN %({prefix}_unknown)s"]
    # Walk upward: after the next band's threshold date means this band.
    for index, ((label, _), (_, upper)) in enumerate(itertools.pairwise(bands)):
        params[f"{prefix}_{index}_date"] = years_before(day, upper)
        params[f"{prefix}_{index}_label"] = label
        parts.append(f"WHEN {column} > %({prefix}_{index}_date)s THEN %({prefix}_{index}_label)s")
    return BandSql(f"CASE {' '.join(parts)} ELSE %({prefix}_last)s END", params)


def age_band_sql(column: str, day: datetime.date) -> BandSql:
    return _date_bands(column, AGE_BANDS, day, "age")


def tenure_band_sql(column: str, day: datetime.date) -> BandSql:
    return _date_bands(column, TENURE_BANDS, day, "tenure")


def holdings_band_sql(count_sql: str) -> BandSql:
    params: dict = {"held_last": HOLDINGS_BANDS[-1][0]}
    parts = []
    pairs = itertools.pairwise(HOLDINGS_BANDS)
    for index, ((label, _), (_, upper)) in enumerate(pairs):
        params[f"held_{index}_n"] = upper
        params[f"held_{index}_label"] = label
        parts.append(f"WHEN {count_sql} < %(held_{index}_n)s THEN %(held_{index}_label)s")
    return BandSql(f"CASE {' '.join(parts)} ELSE %(held_last)s END", params)


def age_band(birth_date: datetime.date | None, day: datetime.date) -> str:
    """The band in Python, the same rule as ``age_band_sql`` (for tests and fixtures)."""
    return _band_of(birth_date, AGE_BANDS, day)


def tenure_band(since: datetime.date | None, day: datetime.date) -> str:
    return _band_of(since, TENURE_BANDS, day)


def holdings_band(count: int) -> str:
    label = HOLDINGS_BANDS[0][0]
    for name, lower in HOLDINGS_BANDS:
        if count >= lower:
            label = name
    return label


def _band_of(value: datetime.date | None, bands, day: datetime.date) -> str:
    if value is None:
        return UNKNOWN
    for (label, _), (_, upper) in itertools.pairwise(bands):
        if value > years_before(day, upper):
            return label
    return bands[-1][0]
