"""Model features from the customer profile, holdings and engagement history, shared by
scalar and batch.

Feature names (the trainer exports them with each model):

- ``age``, ``tenure_months``: the number, 0.0 when missing;
- ``has_email``, ``has_phone``: 1.0 when true;
- ``<string field>=<value>``, e.g. ``income_band=high``, ``risk_band=low``: one-hot;
- ``holds:<PRODUCT_CODE>``, ``holds_family:<family>``: 1.0 when held;
- ``attributes.<name>``: the attribute as a number, 0.0 when missing or not a number;
- ``attributes.<name>=<value>``: 1.0 when the attribute is that string;
- ``engagement.<stat>:<family>``: what the customer did with the bank's offers of one
  product family over the ``ENGAGEMENT_DAYS`` before the decision's clock, from the contact
  history (``CustomerContext.contact_history``; a batch's ``ContactLog``):
  ``offers_7d`` (releases), ``accepts_7d``, ``declines_7d`` (declined or dismissed) and
  ``days_since_response`` (days since the latest answer, capped at ``ENGAGEMENT_DAYS``).
  Only releases made in the window and strictly before the clock count, and an answer
  only when it was given strictly before the clock, so a training row computed as of its
  own decision never reads its outcome (``engagement_value`` for one customer,
  ``engagement_matrix`` for many, with one clock per row). The window is the weekly cap's,
  which every history loader reads whatever the contact policy
  (``decisions.context.history_window_days`` >= 8 days), so a scalar and a batch
  decision see the same releases. These features need the decision's clock
  (``now_us``); without one they raise;
- ``forest:<json>``: the raw margin of a gradient-boosted tree ensemble over the features
  it names (``Forest``: the trainer's export of a HistGradientBoosting model as flat node
  arrays), so a tree model is a linear model over one derived feature and the engine
  scores it with the same ``ModelSpec`` as a logistic one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

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
from .timeutil import DAY_US, to_us

if TYPE_CHECKING:
    from .columns import StringColumn
    from .rules import ColumnSource
    from .types import ContactRecord, CustomerContext

# (customer, families held, the decision's clock in epoch microseconds or None)
ScalarFeature = Callable[..., float]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    source: str  # the field, attribute, product code or family read
    kind: str  # number | bool | onehot | holds | holds_family | engagement | forest
    value: str = ""  # the one-hot value; an engagement feature's statistic


# --- engagement history ---------------------------------------------------------------------

ENGAGEMENT_PREFIX = "engagement."
ENGAGEMENT_DAYS = 7
ENGAGEMENT_STATS: tuple[str, ...] = (
    "offers_7d",
    "accepts_7d",
    "declines_7d",
    "days_since_response",
)
ACCEPTED = frozenset({"accept"})
DECLINED = frozenset({"decline", "dismiss"})
# what counts as the customer answering (an impression is not an answer)
ANSWERED = frozenset({"accept", "decline", "dismiss", "click"})
_NO_TIME = np.iinfo(np.int64).min


def engagement_names(families: Sequence[str] = PRODUCT_FAMILIES) -> tuple[str, ...]:
    """Every engagement feature over ``families``, in declaration order."""
    return tuple(f"{ENGAGEMENT_PREFIX}{stat}:{f}" for f in families for stat in ENGAGEMENT_STATS)


def is_engagement(name: str) -> bool:
    return name.startswith(ENGAGEMENT_PREFIX)


def needs_clock(names: Sequence[str]) -> bool:
    """Whether any of ``names`` (forests looked into) reads the engagement history."""
    return any(is_engagement(plain) for name in names for plain in feature_inputs(name))


def engagement_value(
    stat: str, family: str, history: Sequence[ContactRecord], now_us: int
) -> float:
    """One customer's engagement statistic as of ``now_us`` (see the module docstring)."""
    start = now_us - ENGAGEMENT_DAYS * DAY_US
    count = 0
    last = _NO_TIME
    for contact in history:
        if contact.family != family:
            continue
        released = to_us(contact.released_at)
        if released < start or released >= now_us:
            continue
        if stat == "offers_7d":
            count += 1
            continue
        if contact.outcome is None or contact.outcome_at is None:
            continue
        answered = to_us(contact.outcome_at)
        if answered >= now_us:
            continue
        if stat == "accepts_7d":
            count += contact.outcome in ACCEPTED
        elif stat == "declines_7d":
            count += contact.outcome in DECLINED
        elif contact.outcome in ANSWERED:
            last = max(last, answered)
    if stat == "days_since_response":
        if last == _NO_TIME:
            return float(ENGAGEMENT_DAYS)
        return min(float(ENGAGEMENT_DAYS), (now_us - last) / DAY_US)
    return float(count)


class ContactColumns(Protocol):
    """The columns of a contact log an engagement feature reads (``batch.ContactLog``),
    rows sorted by ``customer_index``."""

    @property
    def customer_index(self) -> np.ndarray: ...
    @property
    def product(self) -> StringColumn: ...
    @property
    def released_us(self) -> np.ndarray: ...
    @property
    def outcome(self) -> StringColumn: ...
    @property
    def outcome_us(self) -> np.ndarray: ...


def _pairs(customer_index: np.ndarray, row_customer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, contact) for every contact of every row's customer."""
    lo = np.searchsorted(customer_index, row_customer, side="left")
    hi = np.searchsorted(customer_index, row_customer, side="right")
    counts = hi - lo
    rows = np.repeat(np.arange(len(row_customer)), counts)
    starts = np.cumsum(counts) - counts
    contacts = lo[rows] + (np.arange(len(rows)) - starts[rows])
    return rows, contacts


def engagement_matrix(
    contacts: ContactColumns,
    product_family: Mapping[str, str],
    row_customer: np.ndarray,
    now_us: np.ndarray,
    names: Sequence[str],
) -> np.ndarray:
    """Engagement features (``names``) for rows that each read one customer's contacts
    (``row_customer``: the customer's index in the log) as of the row's own clock
    (``now_us``): the batch engine passes one row per customer and one clock, training
    one row per response, as of that response. Same rules as ``engagement_value``."""
    size = len(row_customer)
    matrix = np.zeros((size, len(names)), dtype=np.float64)
    if not names:
        return matrix
    now_us = np.asarray(now_us, dtype=np.int64)
    rows, at = _pairs(contacts.customer_index, np.asarray(row_customer, dtype=np.int64))
    family_code = np.asarray(
        [
            PRODUCT_FAMILIES.index(product_family[code])
            if product_family.get(code) in PRODUCT_FAMILIES
            else -1
            for code in contacts.product.categories
        ]
        + [-1],
        dtype=np.int64,
    )
    outcomes = contacts.outcome.categories
    kind = np.asarray(
        [
            1 if value in ACCEPTED else 2 if value in DECLINED else 3 if value in ANSWERED else 0
            for value in outcomes
        ]
        + [0],
        dtype=np.int8,
    )
    family = family_code[contacts.product.codes[at]]
    outcome = kind[contacts.outcome.codes[at]]
    clock = now_us[rows]
    released = contacts.released_us[at]
    answered_us = contacts.outcome_us[at]
    window = (released >= clock - ENGAGEMENT_DAYS * DAY_US) & (released < clock)
    answered = (answered_us != _NO_TIME) & (answered_us < clock) & (outcome > 0)
    for column, name in enumerate(names):
        feature = parse_feature(name)
        if feature.kind != "engagement":
            raise ValueError(f"feature {name!r} is not an engagement feature")
        chosen = window & (family == PRODUCT_FAMILIES.index(feature.source))
        stat = feature.value
        if stat == "offers_7d":
            matrix[:, column] = np.bincount(rows[chosen], minlength=size)
            continue
        if stat == "accepts_7d":
            chosen &= answered & (outcome == 1)
            matrix[:, column] = np.bincount(rows[chosen], minlength=size)
            continue
        if stat == "declines_7d":
            chosen &= answered & (outcome == 2)
            matrix[:, column] = np.bincount(rows[chosen], minlength=size)
            continue
        chosen &= answered
        last = np.full(size, _NO_TIME, dtype=np.int64)
        np.maximum.at(last, rows[chosen], answered_us[chosen])
        none = last == _NO_TIME
        days = np.minimum(float(ENGAGEMENT_DAYS), (now_us - np.where(none, now_us, last)) / DAY_US)
        matrix[:, column] = np.where(none, float(ENGAGEMENT_DAYS), days)
    return matrix


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
    if name.startswith(ENGAGEMENT_PREFIX):
        stat, sep, family = name[len(ENGAGEMENT_PREFIX) :].partition(":")
        if stat not in ENGAGEMENT_STATS or not sep:
            raise ValueError(
                f"feature {name!r}: expected engagement.<{'|'.join(ENGAGEMENT_STATS)}>:<family>"
            )
        if family not in PRODUCT_FAMILIES:
            raise ValueError(f"feature {name!r}: unknown product family {family!r}")
        return Feature(name, family, "engagement", stat)
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


def _no_clock(name: str) -> ValueError:
    return ValueError(f"feature {name!r} reads the engagement history: it needs the clock")


def compile_feature(feature: Feature) -> ScalarFeature:
    """One feature for one customer: ``f(customer, held_families, now_us=None)``."""
    source, value = feature.source, feature.value
    if feature.kind == "forest":
        forest = parse_forest(source)
        inputs = tuple(compile_feature(parse_feature(name)) for name in forest.inputs)

        def margin(
            customer: CustomerContext, families: frozenset[str], now_us: int | None = None
        ) -> float:
            x = np.fromiter(
                (f(customer, families, now_us) for f in inputs), np.float64, len(inputs)
            )
            return forest.margin(x)

        return margin
    if feature.kind == "engagement":
        name = feature.name

        def engagement(
            customer: CustomerContext, families: frozenset[str], now_us: int | None = None
        ) -> float:
            if now_us is None:
                raise _no_clock(name)
            return engagement_value(value, source, customer.contact_history, now_us)

        return engagement
    if feature.kind == "holds":
        return lambda customer, families, now_us=None: 1.0 if source in customer.holdings else 0.0
    if feature.kind == "holds_family":
        return lambda customer, families, now_us=None: 1.0 if source in families else 0.0
    if feature.kind == "onehot":
        return lambda customer, families, now_us=None: (
            1.0 if _raw(customer, source) == value else 0.0
        )
    if feature.kind == "bool":
        return lambda customer, families, now_us=None: (
            1.0 if _raw(customer, source) is True else 0.0
        )

    def number(
        customer: CustomerContext, families: frozenset[str], now_us: int | None = None
    ) -> float:
        result = coerce_number(_raw(customer, source))
        return 0.0 if result is None else result

    return number


def build_feature_vector(
    customer: CustomerContext,
    names: Sequence[str],
    held_families: frozenset[str] = frozenset(),
    *,
    now_us: int | None = None,
) -> tuple[float, ...]:
    """The model's input row for one customer (``held_families``: families of holdings;
    ``now_us``: the decision's clock, which engagement features need)."""
    return tuple(
        compile_feature(parse_feature(name))(customer, held_families, now_us) for name in names
    )


def feature_column(source: ColumnSource, feature: Feature, now_us: int | None = None) -> np.ndarray:
    """One feature over a batch, as float64 (``now_us``: the decision's clock)."""
    if feature.kind == "forest":
        forest = parse_forest(feature.source)
        return forest.margins(build_feature_matrix(source, forest.inputs, now_us=now_us))
    if feature.kind == "engagement":
        if now_us is None:
            raise _no_clock(feature.name)
        # the batch's contact log (``batch.BatchSource``); a source without one has none
        batch = getattr(source, "batch", None)
        contacts = getattr(batch, "contacts", None)
        if contacts is None:
            raise ValueError(f"feature {feature.name!r}: the source has no contact history")
        return engagement_matrix(
            contacts,
            getattr(source, "product_family", {}),
            np.arange(source.size),
            np.full(source.size, now_us, dtype=np.int64),
            (feature.name,),
        )[:, 0]
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


def build_feature_matrix(
    source: ColumnSource, names: Sequence[str], *, now_us: int | None = None
) -> np.ndarray:
    """The model's input matrix (customers x features) for a batch."""
    matrix = np.zeros((source.size, len(names)), dtype=np.float64)
    for column, name in enumerate(names):
        matrix[:, column] = feature_column(source, parse_feature(name), now_us)
    return matrix
