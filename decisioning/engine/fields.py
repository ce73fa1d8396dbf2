"""The one registry of customer fields that rules and model features may use.

Each declared field maps to a type (``number``, ``string`` or ``bool``) and to the
``CustomerContext`` attribute that holds it. Free JSON attributes are reached as
``attributes.<name>``; their type is not declared, so a rule gives it by the value it
compares with, and a customer whose attribute has another type (or none) is treated as
missing. ``coerce`` is the single place that decides what a raw value is worth, shared by
the scalar evaluator, the batch column builders and the feature builder.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final, Literal

FieldType = Literal["number", "string", "bool"]
NUMBER: Final = "number"
STRING: Final = "string"
BOOL: Final = "bool"

FIELDS: Final[dict[str, FieldType]] = {
    "age": NUMBER,
    "tenure_months": NUMBER,
    "region": STRING,
    "branch_code": STRING,
    "time_zone": STRING,
    "risk_band": STRING,
    "income_band": STRING,
    "segment": STRING,
    "has_email": BOOL,
    "has_phone": BOOL,
}

ATTRIBUTE_PREFIX: Final = "attributes."
ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

PRODUCT_FAMILIES: Final[tuple[str, ...]] = (
    "cards",
    "loans",
    "mortgages",
    "deposits",
    "insurance",
    "investments",
)

# Attributes that may never drive targeting or model features of credit products.
PROTECTED_ATTRIBUTES: Final[frozenset[str]] = frozenset(
    {"gender", "marital_status", "ethnicity", "religion", "nationality"}
)


def is_attribute(name: str) -> bool:
    return name.startswith(ATTRIBUTE_PREFIX)


def attribute_key(name: str) -> str:
    """``"attributes.salary"`` -> ``"salary"``."""
    return name[len(ATTRIBUTE_PREFIX) :]


def is_protected(name: str) -> bool:
    """True for ``attributes.<protected>`` (and ``attributes.<protected>=value``)."""
    if not is_attribute(name):
        return False
    return attribute_key(name).split("=", 1)[0] in PROTECTED_ATTRIBUTES


def coerce_number(value: Any) -> float | None:
    """A finite float, or None (missing) for anything else; booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def coerce_string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def coerce_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def coerce(value: Any, kind: FieldType) -> float | str | bool | None:
    if kind == NUMBER:
        return coerce_number(value)
    if kind == STRING:
        return coerce_string(value)
    return coerce_bool(value)
