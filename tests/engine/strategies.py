"""Hypothesis strategies shared by the engine's property tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from decisioning.engine import FIELDS, CustomerContext
from decisioning.engine.fields import PRODUCT_FAMILIES
from decisioning.engine.rules import And, Compare, Const, Holds, HoldsFamily, InList, Not, Or

from .builders import NOW, PRODUCTS

NUMBERS = (-1.0, 0.0, 1.5, 18.0, 40.0, 2000.0)
STRINGS = ("North", "East", "", 'q"uote', "low", "high")
ATTRIBUTE_KEYS = ("salary", "tier", "vip")
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Not/AZone", None)
PRODUCT_CODES = tuple(PRODUCTS)

_OPS = {"number": ("==", "!=", "<", "<=", ">", ">="), "string": ("==", "!="), "bool": ("==", "!=")}
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "number": st.sampled_from(NUMBERS),
    "string": st.sampled_from(STRINGS),
    "bool": st.booleans(),
}


@st.composite
def comparisons(draw: st.DrawFn) -> Compare | InList:
    if draw(st.booleans()):
        field = draw(st.sampled_from(sorted(FIELDS)))
        kind = FIELDS[field]
    else:
        field = "attributes." + draw(st.sampled_from(ATTRIBUTE_KEYS))
        kind = draw(st.sampled_from(("number", "string", "bool")))
    if draw(st.booleans()):
        return Compare(field, draw(st.sampled_from(_OPS[kind])), draw(_VALUES[kind]), kind)
    values = tuple(dict.fromkeys(draw(st.lists(_VALUES[kind], min_size=1, max_size=3))))
    return InList(field, values, kind, draw(st.booleans()))


leaves = st.one_of(
    comparisons(),
    st.builds(Holds, st.sampled_from(PRODUCT_CODES)),
    st.builds(HoldsFamily, st.sampled_from(PRODUCT_FAMILIES)),
    st.builds(Const, st.booleans()),
)

nodes = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.builds(And, st.lists(children, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(children, min_size=2, max_size=3).map(tuple)),
    ),
    max_leaves=8,
)

attribute_values = st.one_of(
    st.none(),
    st.sampled_from(NUMBERS),
    st.integers(-5, 5000),
    st.sampled_from(STRINGS),
    st.booleans(),
    st.just(float("nan")),
)


@st.composite
def profiles(draw: st.DrawFn, customer_id: int | None = None) -> dict[str, Any]:
    """Profile fields of a CustomerContext (no history)."""
    numbers = st.one_of(st.none(), st.sampled_from(NUMBERS), st.integers(0, 100))
    strings = st.one_of(st.none(), st.sampled_from(STRINGS))
    fields: dict[str, Any] = {
        "customer_id": customer_id if customer_id is not None else draw(st.integers(1, 10**12)),
        "age": draw(numbers),
        "tenure_months": draw(numbers),
        "region": draw(strings),
        "branch_code": draw(strings),
        "risk_band": draw(strings),
        "income_band": draw(strings),
        "segment": draw(strings),
        "time_zone": draw(st.sampled_from(ZONES)),
        "has_email": draw(st.one_of(st.none(), st.booleans())),
        "has_phone": draw(st.one_of(st.none(), st.booleans())),
        "holdings": frozenset(draw(st.lists(st.sampled_from(PRODUCT_CODES), max_size=2))),
        "addresses": draw(
            st.one_of(st.none(), st.frozensets(st.sampled_from(("email", "phone", "device_id"))))
        ),
    }
    attributes = {}
    for key in ATTRIBUTE_KEYS:
        if draw(st.booleans()):
            attributes[key] = draw(attribute_values)
    fields["attributes"] = attributes
    return fields


def customers(customer_id: int | None = None) -> st.SearchStrategy[CustomerContext]:
    return profiles(customer_id).map(lambda fields: CustomerContext(**fields))


# times near NOW, on whole minutes and on exact window edges
offsets = st.one_of(
    st.integers(-45 * 24 * 60, 0).map(lambda minutes: timedelta(minutes=minutes)),
    st.sampled_from([-1, -7, -14, -30, -29, -6]).map(lambda days: timedelta(days=days)),
)
times = offsets.map(lambda offset: NOW + offset)
