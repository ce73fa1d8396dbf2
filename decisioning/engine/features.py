"""Model features from the customer profile and holdings, shared by scalar and batch.

Feature names (the trainer exports them with each model):

- ``age``, ``tenure_months``: the number, 0.0 when missing;
- ``has_email``, ``has_phone``: 1.0 when true;
- ``<string field>=<value>``, e.g. ``income_band=high``, ``risk_band=low``: one-hot;
- ``holds:<PRODUCT_CODE>``, ``holds_family:<family>``: 1.0 when held;
- ``attributes.<name>``: the attribute as a number, 0.0 when missing or not a number;
- ``attributes.<name>=<value>``: 1.0 when the attribute is that string;
- ``forest:<json>``: the raw margin of a gradient-boosted tree ensemble over the features
  it names (``Forest``: the trainer's export of a HistGradientBoosting model as flat node
  arrays), so a tree model is a linear model over one derived feature and the engine
  scores it with the same ``ModelSpec`` as a logistic one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

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
    kind: str  # number | bool | onehot | holds | holds_family | forest
    value: str = ""  # the one-hot value


FOREST_PREFIX = "forest:"


class Forest:
    """Boosted trees as flat arrays; every leaf points to itself, so ``depth`` steps of
    ``node = left if x[feature] <= threshold else right`` from the roots reach each tree's
    leaf whatever its depth. The margin is the sum of the leaves' values."""

    __slots__ = ("depth", "feature", "inputs", "left", "right", "roots", "threshold", "value")

    def __init__(self, data: dict[str, Any]) -> None:
        try:
            self.inputs = tuple(str(name) for name in data["inputs"])
            self.feature = np.asarray(data["feature"], dtype=np.int64)
            self.threshold = np.asarray(data["threshold"], dtype=np.float64)
            self.left = np.asarray(data["left"], dtype=np.int64)
            self.right = np.asarray(data["right"], dtype=np.int64)
            self.value = np.asarray(data["value"], dtype=np.float64)
            self.roots = np.asarray(data["roots"], dtype=np.int64)
            self.depth = int(data["depth"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"forest feature: malformed ({exc})") from None
        n = len(self.feature)
        if not (len(self.threshold) == len(self.left) == len(self.right) == len(self.value) == n):
            raise ValueError("forest feature: node arrays differ in length")
        for name in self.inputs:
            if name.startswith(FOREST_PREFIX):
                raise ValueError("forest feature: a forest cannot read another forest")
            parse_feature(name)
        for array in (self.left, self.right, self.roots):
            if len(array) and (array.min() < 0 or array.max() >= n):
                raise ValueError("forest feature: a node index is out of range")
        if n and (self.feature.min() < 0 or self.feature.max() >= max(len(self.inputs), 1)):
            raise ValueError("forest feature: a node reads an input the forest does not name")
        if not np.all(np.isfinite(self.value)) or np.any(np.isnan(self.threshold)):
            raise ValueError("forest feature: non-finite leaf value or threshold")
        if self.depth < 0:
            raise ValueError("forest feature: negative depth")

    @property
    def tree_count(self) -> int:
        return len(self.roots)

    def margin(self, x: np.ndarray) -> float:
        """One customer's margin (``x``: the inputs, in ``inputs`` order)."""
        node = self.roots
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        for _ in range(self.depth):
            node = np.where(x[feature[node]] <= threshold[node], left[node], right[node])
        return float(self.value[node].sum())

    def margins(self, matrix: np.ndarray) -> np.ndarray:
        """Margins of a (customers x inputs) matrix."""
        size = matrix.shape[0]
        node = np.broadcast_to(self.roots, (size, len(self.roots)))
        rows = np.arange(size)[:, None]
        for _ in range(self.depth):
            feature = self.feature[node]
            node = np.where(
                matrix[rows, feature] <= self.threshold[node], self.left[node], self.right[node]
            )
        return self.value[node].sum(axis=1)


def forest_feature_name(data: dict[str, Any]) -> str:
    """The feature name carrying a forest (compact JSON, checked by parsing it back)."""
    name = FOREST_PREFIX + json.dumps(data, separators=(",", ":"), sort_keys=True)
    parse_forest(name)
    return name


@lru_cache(maxsize=64)
def parse_forest(name: str) -> Forest:
    """The forest a ``forest:`` feature name carries (parsed once per distinct model)."""
    try:
        data = json.loads(name[len(FOREST_PREFIX) :])
    except json.JSONDecodeError as exc:
        raise ValueError(f"forest feature: not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("forest feature: expected an object")
    return Forest(data)


def feature_inputs(name: str) -> tuple[str, ...]:
    """The plain features a feature reads: itself, or a forest's inputs."""
    if name.startswith(FOREST_PREFIX):
        return parse_forest(name).inputs
    return (name,)


def parse_feature(name: str) -> Feature:
    """Validate a feature name; ``ValueError`` names what is wrong."""
    if name.startswith(FOREST_PREFIX):
        parse_forest(name)
        return Feature(name, name, "forest")
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
    if feature.kind == "forest":
        forest = parse_forest(source)
        inputs = tuple(compile_feature(parse_feature(name)) for name in forest.inputs)

        def margin(customer: CustomerContext, families: frozenset[str]) -> float:
            x = np.fromiter((f(customer, families) for f in inputs), np.float64, len(inputs))
            return forest.margin(x)

        return margin
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
    if feature.kind == "forest":
        forest = parse_forest(feature.source)
        return forest.margins(build_feature_matrix(source, forest.inputs))
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
