"""Model features from the customer profile and holdings, shared by scalar and batch.

Feature names (the trainer exports them with each model):

- ``age``, ``tenure_months``: the number, 0.0 when missing;
- ``has_email``, ``has_phone``: 1.0 when true;
- ``<string field>=<value>``, e.g. ``income_band=high``, ``risk_band=low``: one-hot;
- ``holds:<PRODUCT_CODE>``, ``holds_family:<family>``: 1.0 when held;
- ``attributes.<name>``: the attribute as a number, 0.0 when missing or not a number;
- ``attributes.<name>=<value>``: 1.0 when the attribute is that string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .fields import (
    ATTRIBUTE_NAME,
    BOOL,
    FIELDS,
    NUMBER,
    PRODUCT_FAMILIES,
    STRING,
    attribute_key,
    coerce_number,
    is_attribute,
)

if TYPE_CHECKING:
    from .rules import ColumnSource
    from .types import CustomerContext

ScalarFeature = Callable[["CustomerContext", frozenset[str]], float]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    source: str  # the field, attribute, product code or family read
    kind: str  # number | bool | onehot | holds | holds_family
    value: str = ""  # the one-hot value


def parse_feature(name: str) -> Feature:
    """Validate a feature name; ``ValueError`` names what is wrong."""
    if name.startswith("holds:"):
        code = name[len("holds:") :]
        if not code:
            raise ValueError(f"feature {name!r}: expected a product code after 'holds:'")
        return Feature(name, code, "holds")
    if name.startswith("holds_family:"):
        family = name[len("holds_family:") :]
        if family not in PRODUCT_FAMILIES:
            raise ValueError(f"feature {name!r}: unknown product family {family!r}")
        return Feature(name, family, "holds_family")
    field, sep, value = name.partition("=")
    if is_attribute(field):
        if not ATTRIBUTE_NAME.match(attribute_key(field)):
            raise ValueError(f"feature {name!r}: bad attribute name")
        return Feature(name, field, "onehot" if sep else "number", value)
    kind = FIELDS.get(field)
    if kind is None:
        raise ValueError(f"feature {name!r}: unknown field {field!r}")
    if sep:
        if kind != STRING:
            raise ValueError(f"feature {name!r}: one-hot needs a string field")
        return Feature(name, field, "onehot", value)
    if kind == NUMBER:
        return Feature(name, field, "number")
    if kind == BOOL:
        return Feature(name, field, "bool")
    raise ValueError(f"feature {name!r}: string field {field!r} needs '=<value>' (one-hot)")


def _raw(customer: CustomerContext, source: str) -> object:
    if is_attribute(source):
        return customer.attributes.get(attribute_key(source))
    return getattr(customer, source)


def compile_feature(feature: Feature) -> ScalarFeature:
    source, value = feature.source, feature.value
    if feature.kind == "holds":
        return lambda customer, families: 1.0 if source in customer.holdings else 0.0
    if feature.kind == "holds_family":
        return lambda customer, families: 1.0 if source in families else 0.0
    if feature.kind == "onehot":
        return lambda customer, families: 1.0 if _raw(customer, source) == value else 0.0
    if feature.kind == "bool":
        return lambda customer, families: 1.0 if _raw(customer, source) is True else 0.0

    def number(customer: CustomerContext, families: frozenset[str]) -> float:
        result = coerce_number(_raw(customer, source))
        return 0.0 if result is None else result

    return number


def build_feature_vector(
    customer: CustomerContext, names: Sequence[str], held_families: frozenset[str] = frozenset()
) -> tuple[float, ...]:
    """The model's input row for one customer (``held_families``: families of holdings)."""
    return tuple(compile_feature(parse_feature(name))(customer, held_families) for name in names)


def feature_column(source: ColumnSource, feature: Feature) -> np.ndarray:
    """One feature over a batch, as float64."""
    if feature.kind == "holds":
        return source.holds_product(feature.source).astype(np.float64)
    if feature.kind == "holds_family":
        return source.holds_family(feature.source).astype(np.float64)
    if feature.kind == "onehot":
        codes, categories = source.string(feature.source)
        code = categories.get(feature.value)
        if code is None:
            return np.zeros(source.size, dtype=np.float64)
        return (codes == code).astype(np.float64)
    if feature.kind == "bool":
        values, present = source.boolean(feature.source)
        return (values & present).astype(np.float64)
    values, present = source.number(feature.source)
    return np.where(present, values, 0.0)


def build_feature_matrix(source: ColumnSource, names: Sequence[str]) -> np.ndarray:
    """The model's input matrix (customers x features) for a batch."""
    matrix = np.zeros((source.size, len(names)), dtype=np.float64)
    for column, name in enumerate(names):
        matrix[:, column] = feature_column(source, parse_feature(name))
    return matrix
