"""Vectorised evaluation of one campaign over a columnar batch of customers.

``decide_batch`` applies the same rules, in the same order, as ``decide`` does for a
batch request, customer by customer equal (chosen offers, channels, control flag and
outcome), but with NumPy over chunks of customers:

- rule masks from the rule compiler (``Rule.mask``), model propensities per product;
- policy masks from the batch's arrays and its three columnar logs (contacts, events,
  suppressions), using the same windows as ``policy.CustomerState``;
- a stage matrix (customers x offers) holding, per candidate, the first check it fails
  (``reasons.STAGES``), or ``PASSED``; each check is a stage function registered with
  ``batch_stage`` / ``channel_batch_stage`` (``BATCH_STAGES``), applied in stage order;
- arbitration in rounds: each round picks per customer the best available candidate
  (hardship-promoted service first, then score, then offer code) under the one-per-family,
  N-per-channel and sales-budget constraints — the same greedy order as the scalar path;
- the control group and the campaign's daily volume (taken in batch order) last.

Building a ``CustomerBatch``: ``CustomerBatch.from_contexts(contexts)`` (tests, small
batches) or ``CustomerBatch.from_columns(...)`` with arrays a loader reads straight from
the database (see its docstring).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np

from core.channels import ALL_CHANNELS, CONTACT_FIELD, EXPLICIT_CONSENT

from . import reasons as r
from .columns import AttributeColumn, BoolColumn, Column, NumberColumn, StringColumn
from .fields import BOOL, FIELDS, NUMBER, PRODUCT_FAMILIES, STRING, attribute_key, is_attribute
from .hashing import in_control_array, pick_arm_array
from .policy import offer_is_active
from .scoring import ModelEvaluator, explores, thompson_draws
from .snapshot import CampaignPlan, OfferPlan, Snapshot
from .timeutil import DAY_US, quiet_hours, require_aware, to_us, zone
from .types import (
    EMPTY,
    ENGAGED_OUTCOMES,
    OUTCOME_DECLINE,
    SALES,
    ContactRecord,
    CustomerContext,
    DecisionRequest,
    EventRecord,
    SuppressionSpec,
)

NO_TIME = np.iinfo(np.int64).min
FOREVER = np.iinfo(np.int64).max
DEFAULT_CHUNK = 8_192


# --- columnar logs ---------------------------------------------------------------------------


def _reindex(log: Any, rows: np.ndarray | slice, shift: int = 0) -> Any:
    values: dict[str, Any] = {}
    for item in dataclasses.fields(log):
        value = getattr(log, item.name)
        if isinstance(value, StringColumn):
            values[item.name] = value.with_codes(value.codes[rows])
        else:
            values[item.name] = value[rows]
    values["customer_index"] = values["customer_index"] - shift
    return type(log)(**values)


class _Log:
    """Shared behaviour of the columnar logs: rows sorted by ``customer_index``."""

    __slots__ = ()

    customer_index: np.ndarray

    def _sort(self) -> None:
        index = self.customer_index
        if len(index) > 1 and np.any(index[1:] < index[:-1]):
            order = np.argsort(index, kind="stable")
            sorted_log = _reindex(self, order)
            for item in dataclasses.fields(self):  # type: ignore[arg-type]
                object.__setattr__(self, item.name, getattr(sorted_log, item.name))

    @property
    def size(self) -> int:
        return len(self.customer_index)

    def take(self, start: int, stop: int) -> Any:
        """Rows of customers ``start <= index < stop``, renumbered from 0."""
        lo, hi = np.searchsorted(self.customer_index, [start, stop], side="left")
        return _reindex(self, slice(int(lo), int(hi)), shift=start)


@dataclass(frozen=True, slots=True)
class ContactLog(_Log):
    """Past releases (contact history) of every customer in the batch, one row each."""

    customer_index: np.ndarray  # int64: the customer's row in the batch
    offer: StringColumn
    product: StringColumn
    channel: StringColumn
    is_sales: np.ndarray  # bool
    campaign_id: np.ndarray  # int64, -1 = none
    released_us: np.ndarray  # int64 microseconds since the epoch
    outcome: StringColumn
    outcome_us: np.ndarray  # int64, NO_TIME = no outcome time

    def __post_init__(self) -> None:
        self._sort()

    @classmethod
    def from_records(cls, rows: Iterable[tuple[int, ContactRecord]]) -> ContactLog:
        rows = list(rows)
        return cls(
            customer_index=np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows)),
            offer=StringColumn.from_values(c.offer_code for _, c in rows),
            product=StringColumn.from_values(c.product_code for _, c in rows),
            channel=StringColumn.from_values(c.channel for _, c in rows),
            is_sales=np.fromiter((c.kind == SALES for _, c in rows), dtype=bool, count=len(rows)),
            campaign_id=np.fromiter(
                (-1 if c.campaign_id is None else c.campaign_id for _, c in rows),
                dtype=np.int64,
                count=len(rows),
            ),
            released_us=np.fromiter(
                (to_us(c.released_at) for _, c in rows), dtype=np.int64, count=len(rows)
            ),
            outcome=StringColumn.from_values(c.outcome for _, c in rows),
            outcome_us=np.fromiter(
                (NO_TIME if c.outcome_at is None else to_us(c.outcome_at) for _, c in rows),
                dtype=np.int64,
                count=len(rows),
            ),
        )


@dataclass(frozen=True, slots=True)
class EventLog(_Log):
    customer_index: np.ndarray
    type: StringColumn
    occurred_us: np.ndarray

    def __post_init__(self) -> None:
        self._sort()

    @classmethod
    def from_records(cls, rows: Iterable[tuple[int, EventRecord]]) -> EventLog:
        rows = list(rows)
        return cls(
            customer_index=np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows)),
            type=StringColumn.from_values(e.type for _, e in rows),
            occurred_us=np.fromiter(
                (to_us(e.occurred_at) for _, e in rows), dtype=np.int64, count=len(rows)
            ),
        )


@dataclass(frozen=True, slots=True)
class SuppressionLog(_Log):
    customer_index: np.ndarray
    scope: StringColumn
    value: StringColumn
    until_us: np.ndarray  # FOREVER = until lifted

    def __post_init__(self) -> None:
        self._sort()

    @classmethod
    def from_records(cls, rows: Iterable[tuple[int, SuppressionSpec]]) -> SuppressionLog:
        rows = list(rows)
        return cls(
            customer_index=np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows)),
            scope=StringColumn.from_values(s.scope for _, s in rows),
            value=StringColumn.from_values(s.value for _, s in rows),
            until_us=np.fromiter(
                (FOREVER if s.until is None else to_us(s.until) for _, s in rows),
                dtype=np.int64,
                count=len(rows),
            ),
        )


# --- the batch -----------------------------------------------------------------------------


def _as_column(name: str, values: Any, size: int) -> Column:
    kind = FIELDS[name]
    if isinstance(values, NumberColumn | StringColumn | BoolColumn):
        column = values
    elif kind == NUMBER:
        array = np.asarray(values)
        column = (
            NumberColumn.from_array(array)
            if array.dtype.kind in "fiu"
            else NumberColumn.from_values(values)
        )
    elif kind == STRING:
        column = StringColumn.from_values(values)
    else:
        column = BoolColumn.from_values(values)
    expected = {NUMBER: NumberColumn, STRING: StringColumn, BOOL: BoolColumn}[kind]
    if not isinstance(column, expected):
        raise TypeError(f"column {name!r} must be a {expected.__name__}")
    length = len(column.codes) if isinstance(column, StringColumn) else len(column.values)
    if length != size:
        raise ValueError(f"column {name!r} has {length} rows, expected {size}")
    return column


@dataclass(frozen=True, slots=True)
class CustomerBatch:
    """Customers as columns: profile fields, attributes, holdings, consents, flags, logs."""

    customer_ids: np.ndarray  # int64
    columns: Mapping[str, Column]
    attributes: Mapping[str, AttributeColumn]
    product_codes: tuple[str, ...]
    holdings: np.ndarray  # bool (customers x product_codes)
    consents: Mapping[str, np.ndarray]  # int8 per channel: 1 granted, -1 revoked, 0 unknown
    global_opt_out: np.ndarray
    do_not_contact: np.ndarray
    erased: np.ndarray
    contacts: ContactLog
    events: EventLog
    suppressions: SuppressionLog
    external_ids: tuple[str, ...] | None = None
    # bool per contact field (email, phone, device_id): the customer can be reached there;
    # a field not given is not checked (``CustomerContext.addresses``)
    addresses: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.customer_ids)

    @classmethod
    def from_columns(
        cls,
        customer_ids: Sequence[int] | np.ndarray,
        *,
        columns: Mapping[str, Any] = EMPTY,
        attributes: Mapping[str, AttributeColumn | Sequence[Any]] = EMPTY,
        product_codes: Sequence[str] = (),
        holdings: np.ndarray | None = None,
        consents: Mapping[str, np.ndarray | Sequence[int]] = EMPTY,
        global_opt_out: np.ndarray | Sequence[bool] | None = None,
        do_not_contact: np.ndarray | Sequence[bool] | None = None,
        erased: np.ndarray | Sequence[bool] | None = None,
        contacts: ContactLog | None = None,
        events: EventLog | None = None,
        suppressions: SuppressionLog | None = None,
        external_ids: Sequence[str] | None = None,
        addresses: Mapping[str, np.ndarray | Sequence[bool]] = EMPTY,
    ) -> CustomerBatch:
        """Build a batch from arrays.

        ``columns`` maps declared fields (``fields.FIELDS``) to a typed column or raw
        values (numbers: a float array with NaN for missing; strings/bools: a sequence
        with None for missing). ``attributes`` maps attribute names to an
        ``AttributeColumn`` or raw JSON values. ``holdings`` is a bool matrix over
        ``product_codes``. ``consents`` per channel: 1 granted, -1 revoked, 0 none. Logs
        are indexed by the customer's row; ``released_us`` etc. are microseconds since
        the epoch (``timeutil.to_us``).
        """
        ids = np.asarray(customer_ids, dtype=np.int64)
        size = len(ids)

        def flags(values: Any) -> np.ndarray:
            return np.zeros(size, dtype=bool) if values is None else np.asarray(values, dtype=bool)

        unknown = set(columns) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown columns: {', '.join(sorted(unknown))}")
        typed = {name: _as_column(name, values, size) for name, values in columns.items()}
        attribute_columns = {
            name: value
            if isinstance(value, AttributeColumn)
            else AttributeColumn.from_values(value)
            for name, value in attributes.items()
        }
        held = (
            np.zeros((size, len(product_codes)), dtype=bool)
            if holdings is None
            else np.asarray(holdings, dtype=bool).reshape(size, len(product_codes))
        )
        return cls(
            customer_ids=ids,
            columns=typed,
            attributes=attribute_columns,
            product_codes=tuple(product_codes),
            holdings=held,
            consents={ch: np.asarray(v, dtype=np.int8) for ch, v in consents.items()},
            global_opt_out=flags(global_opt_out),
            do_not_contact=flags(do_not_contact),
            erased=flags(erased),
            contacts=contacts or ContactLog.from_records(()),
            events=events or EventLog.from_records(()),
            suppressions=suppressions or SuppressionLog.from_records(()),
            external_ids=tuple(external_ids) if external_ids is not None else None,
            addresses={name: flags(values) for name, values in addresses.items()},
        )

    @classmethod
    def from_contexts(
        cls, contexts: Sequence[CustomerContext], *, product_codes: Sequence[str] = ()
    ) -> CustomerBatch:
        """The same customers as ``decide`` sees them, as columns (tests, small batches)."""
        codes = tuple(
            dict.fromkeys((*product_codes, *sorted({p for c in contexts for p in c.holdings})))
        )
        position = {code: i for i, code in enumerate(codes)}
        holdings = np.zeros((len(contexts), len(codes)), dtype=bool)
        for row, context in enumerate(contexts):
            for code in context.holdings:
                holdings[row, position[code]] = True
        keys = sorted({key for context in contexts for key in context.attributes})
        consents = {
            channel: np.asarray(
                [
                    1
                    if c.consents.get(channel) is True
                    else -1
                    if c.consents.get(channel) is False
                    else 0
                    for c in contexts
                ],
                dtype=np.int8,
            )
            for channel in ALL_CHANNELS
        }
        return cls.from_columns(
            [c.customer_id for c in contexts],
            columns={name: [getattr(c, name) for c in contexts] for name in FIELDS},
            attributes={key: [c.attributes.get(key) for c in contexts] for key in keys},
            product_codes=codes,
            holdings=holdings,
            consents=consents,
            global_opt_out=[bool(c.global_opt_out) for c in contexts],
            do_not_contact=[bool(c.do_not_contact) for c in contexts],
            erased=[bool(c.erased) for c in contexts],
            contacts=ContactLog.from_records(
                (i, rec) for i, c in enumerate(contexts) for rec in c.contact_history
            ),
            events=EventLog.from_records(
                (i, e) for i, c in enumerate(contexts) for e in c.recent_events
            ),
            suppressions=SuppressionLog.from_records(
                (i, s) for i, c in enumerate(contexts) for s in c.suppressions
            ),
            external_ids=[c.external_id for c in contexts],
            addresses={
                name: [c.addresses is None or name in c.addresses for c in contexts]
                for name in sorted(set(CONTACT_FIELD.values()))
            }
            if any(c.addresses is not None for c in contexts)
            else EMPTY,
        )

    def take(self, start: int, stop: int) -> CustomerBatch:
        """Customers ``start:stop`` (views of the arrays, logs renumbered)."""
        return CustomerBatch(
            customer_ids=self.customer_ids[start:stop],
            columns={name: column.take(start, stop) for name, column in self.columns.items()},
            attributes={name: column.take(start, stop) for name, column in self.attributes.items()},
            product_codes=self.product_codes,
            holdings=self.holdings[start:stop],
            consents={channel: values[start:stop] for channel, values in self.consents.items()},
            global_opt_out=self.global_opt_out[start:stop],
            do_not_contact=self.do_not_contact[start:stop],
            erased=self.erased[start:stop],
            contacts=self.contacts.take(start, stop),
            events=self.events.take(start, stop),
            suppressions=self.suppressions.take(start, stop),
            external_ids=self.external_ids[start:stop] if self.external_ids is not None else None,
            addresses={name: values[start:stop] for name, values in self.addresses.items()},
        )

    def source(self, product_family: Mapping[str, str]) -> BatchSource:
        """The batch as a ``rules.ColumnSource`` (``product_family``: code -> family)."""
        return BatchSource(self, product_family)


class BatchSource:
    """A batch seen by the rule and feature compilers, with per-call caches."""

    __slots__ = ("_families", "batch", "product_family")

    def __init__(self, batch: CustomerBatch, product_family: Mapping[str, str]) -> None:
        self.batch = batch
        self.product_family = product_family
        self._families: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.batch.size

    def _declared(self, name: str, kind: str) -> Column | None:
        if FIELDS.get(name) != kind:
            raise KeyError(f"{name!r} is not a {kind} field")
        return self.batch.columns.get(name)

    def number(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if is_attribute(name):
            attribute = self.batch.attributes.get(attribute_key(name))
            column = attribute.number if attribute is not None else None
        else:
            column = self._declared(name, NUMBER)  # type: ignore[assignment]
        if column is None:
            column = NumberColumn.missing(self.size)
        assert isinstance(column, NumberColumn)
        return column.values, column.present

    def string(self, name: str) -> tuple[np.ndarray, Mapping[str, int]]:
        if is_attribute(name):
            attribute = self.batch.attributes.get(attribute_key(name))
            column = attribute.string if attribute is not None else None
        else:
            column = self._declared(name, STRING)  # type: ignore[assignment]
        if column is None:
            column = StringColumn.missing(self.size)
        assert isinstance(column, StringColumn)
        return column.codes, column.index

    def boolean(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if is_attribute(name):
            attribute = self.batch.attributes.get(attribute_key(name))
            column = attribute.boolean if attribute is not None else None
        else:
            column = self._declared(name, BOOL)  # type: ignore[assignment]
        if column is None:
            column = BoolColumn.missing(self.size)
        assert isinstance(column, BoolColumn)
        return column.values, column.present

    def holds_product(self, code: str) -> np.ndarray:
        try:
            return self.batch.holdings[:, self.batch.product_codes.index(code)]
        except ValueError:
            return np.zeros(self.size, dtype=bool)

    def held_families(self) -> np.ndarray:
        """(``PRODUCT_FAMILIES`` x customers) bool: holds a product of that family."""
        if self._families is None:
            families = np.zeros((len(PRODUCT_FAMILIES), self.size), dtype=bool)
            for column, code in enumerate(self.batch.product_codes):
                family = self.product_family.get(code)
                if family is not None:
                    families[PRODUCT_FAMILIES.index(family)] |= self.batch.holdings[:, column]
            self._families = families
        return self._families

    def holds_family(self, family: str) -> np.ndarray:
        return self.held_families()[PRODUCT_FAMILIES.index(family)]


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One campaign over a batch; row i is customer ``customer_ids[i]``.

    ``chosen[i]`` lists the customer's offers in rank order (indices into
    ``offer_codes``, -1 padding); for control-group customers these are the offers they
    would have received. ``outcome[i]`` indexes ``reasons.OUTCOMES``: released,
    control_group, no_candidates, or the reason that removed the customer's last
    candidate.
    """

    campaign_id: int
    campaign_code: str
    shadow: bool
    offer_codes: tuple[str, ...]
    offer_arms: tuple[str, ...]
    offer_products: tuple[str, ...]
    channels: tuple[str, ...]
    arms: tuple[str, ...]
    customer_ids: np.ndarray
    arm: np.ndarray  # int8 index into arms
    in_audience: np.ndarray  # bool
    chosen: np.ndarray  # int16 (customers x slots)
    chosen_channel: np.ndarray  # int8 index into channels, -1
    chosen_score: np.ndarray  # float64, NaN padding
    chosen_propensity: np.ndarray  # float64, NaN padding
    deliver_after_us: np.ndarray  # int64; NO_TIME = deliver now
    control: np.ndarray  # bool
    outcome: np.ndarray  # int8 index into reasons.OUTCOMES
    volume_used: int  # customers released to, including the request's count before the run
    policy_version: int
    snapshot_version: str
    model_versions: Mapping[str, str]
    # (customer, offer) candidates by the check that removed them, "passed" for the rest
    candidate_counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.customer_ids)

    @property
    def released(self) -> np.ndarray:
        """(customers x slots) bool: an offer actually released (not held out)."""
        return (self.chosen >= 0) & ~self.control[:, None]

    def outcome_counts(self) -> dict[str, int]:
        counts = np.bincount(self.outcome.astype(np.int64), minlength=len(r.OUTCOMES))
        return {name: int(count) for name, count in zip(r.OUTCOMES, counts, strict=True) if count}

    def outcome_of(self, row: int) -> str:
        return r.OUTCOMES[int(self.outcome[row])]

    def offers_of(self, row: int) -> list[tuple[str, str, float, bool]]:
        """(offer code, channel, score, deferred) in rank order for one customer."""
        picks = []
        for slot in range(self.chosen.shape[1]):
            index = int(self.chosen[row, slot])
            if index < 0:
                break
            picks.append(
                (
                    self.offer_codes[index],
                    self.channels[int(self.chosen_channel[row, slot])],
                    float(self.chosen_score[row, slot]),
                    bool(self.deliver_after_us[row, slot] != NO_TIME),
                )
            )
        return picks


# --- evaluation --------------------------------------------------------------------------


class _Campaign:
    """Per-run constants of the campaign: offer vectors (length m) and lookup tables."""

    def __init__(self, snapshot: Snapshot, plan: CampaignPlan, request: DecisionRequest) -> None:
        policy = snapshot.policy
        self.snapshot = snapshot
        self.plan = plan
        self.policy = policy
        self.now = request.now
        self.now_us = to_us(request.now)
        self.max_offers = request.max_offers or policy.max_offers_default
        offers: tuple[OfferPlan, ...] = plan.offer_plans
        self.offers = offers
        self.offer_arm = np.asarray(
            [arm for arm, group in enumerate(plan.offers_by_arm) for _ in group], dtype=np.int64
        )
        self.unique = tuple(dict.fromkeys(o.code for o in offers))
        self.offer_unique = np.asarray([self.unique.index(o.code) for o in offers], dtype=np.int64)
        self.unique_is_identity = len(self.unique) == len(offers)
        self.products = tuple(dict.fromkeys(o.product_code for o in offers))
        self.offer_product = np.asarray(
            [self.products.index(o.product_code) for o in offers], dtype=np.int64
        )
        self.offer_family = np.asarray(
            [PRODUCT_FAMILIES.index(o.family) for o in offers], dtype=np.int64
        )
        self.sales = np.asarray([o.is_sales for o in offers], dtype=bool)
        self.service = ~self.sales
        self.credit_sales = np.asarray([o.is_sales and o.is_credit for o in offers], dtype=bool)
        self.hardship_types = tuple(sorted(policy.hardship_event_types))
        self.relief = np.asarray(
            [[t in o.relief for t in self.hardship_types] for o in offers], dtype=bool
        ).reshape(len(offers), len(self.hardship_types))
        self.inactive = np.asarray(
            [not offer_is_active(o.offer, request.now) for o in offers], dtype=bool
        )
        self.channels = plan.outbound_channels
        self.no_content = np.asarray(
            [[channel not in o.offer.contents for o in offers] for channel in self.channels],
            dtype=bool,
        ).reshape(len(self.channels), len(offers))
        self.quiet_channel = np.asarray(
            [c in policy.quiet_channels for c in self.channels], dtype=bool
        )
        self.cooldown_us = np.asarray(
            [snapshot.offers[code].cooldown_days * DAY_US for code in self.unique], dtype=np.int64
        )
        self.value = np.asarray([o.value for o in offers], dtype=np.float64)
        self.lever = np.asarray([o.lever for o in offers], dtype=np.float64)
        self.evaluators: dict[str, ModelEvaluator] = {
            code: snapshot.evaluators[code] for code in self.products if code in snapshot.evaluators
        }
        self.priors = [o.prior for o in offers]
        # at most N per channel, and sales offers within the attention budget
        budget = max(0, min(policy.daily_cap, policy.weekly_cap))
        self.slots = max(
            1,
            min(
                len(offers),
                self.max_offers * max(len(self.channels), 1),
                budget + int(self.service.sum()),
            ),
        )
        self.channel_choice = _channel_choice_table(self.quiet_channel)
        self._lookups: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}

    def days_us(self, days: int) -> int:
        return self.now_us - days * DAY_US

    def lookup(self, column: StringColumn, targets: Sequence[str]) -> np.ndarray:
        """Per row of ``column``: the position of its value in ``targets``, or -1."""
        key = (id(column.categories), tuple(targets))
        table = self._lookups.get(key)
        if table is None:
            position = {value: i for i, value in enumerate(targets)}
            table = np.asarray(
                [position.get(c, -1) for c in column.categories] + [-1], dtype=np.int64
            )
            self._lookups[key] = table
        return table[column.codes]

    def by_offer(self, table: np.ndarray) -> np.ndarray:
        """Rows of a (unique offers x customers) table for each of the m offers."""
        return table if self.unique_is_identity else table[self.offer_unique]


def _channel_choice_table(quiet_channel: np.ndarray) -> np.ndarray:
    """Chosen channel for each (in quiet hours, passing-channels bit pattern), -1 for none.

    The first passing channel that is not deferred by quiet hours, else the first passing
    one (deferred), as ``decide`` chooses.
    """
    k = len(quiet_channel)
    table = np.full(2 << k, -1, dtype=np.int8)
    for quiet in (0, 1):
        for pattern in range(1 << k):
            passing = [c for c in range(k) if pattern >> c & 1]
            open_ = [c for c in passing if not (quiet and quiet_channel[c])]
            if passing:
                table[(quiet << k) | pattern] = (open_ or passing)[0]
    return table


def _scatter(shape: tuple[int, ...], index: tuple[np.ndarray, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    if len(index[0]):
        out[index] = True
    return out


class _Chunk:
    """Policy arrays of one chunk of customers, as ``CustomerState`` computes them.

    Per-customer vectors have length n; tables are (things x n), customers last, so a
    row per offer, product, family or channel is contiguous.
    """

    def __init__(self, campaign: _Campaign, batch: CustomerBatch) -> None:
        policy = campaign.policy
        now_us = campaign.now_us
        n = batch.size
        channels = campaign.channels
        n_unique, n_channels = len(campaign.unique), len(channels)

        contacts = batch.contacts
        idx = contacts.customer_index
        released = contacts.released_us
        sales = contacts.is_sales
        outcome = campaign.lookup(contacts.outcome, (*sorted(ENGAGED_OUTCOMES), OUTCOME_DECLINE))
        engaged = (outcome >= 0) & (outcome < len(ENGAGED_OUTCOMES))

        # caps: rolling 24 h and 7 x 24 h, sales releases on every channel
        daily = np.bincount(idx[sales & (released > now_us - DAY_US)], minlength=n)
        weekly = np.bincount(idx[sales & (released > now_us - 7 * DAY_US)], minlength=n)
        self.budget = np.maximum(
            0, np.minimum(policy.daily_cap - daily, policy.weekly_cap - weekly)
        )

        # fatigue: ignored sales releases since the last engaged one
        last_engaged = np.full(n, NO_TIME, dtype=np.int64)
        np.maximum.at(last_engaged, idx[sales & engaged], released[sales & engaged])
        ignored = sales & ~engaged & (released > last_engaged[idx])
        ignored_count = np.bincount(idx[ignored], minlength=n)
        last_ignored = np.full(n, NO_TIME, dtype=np.int64)
        np.maximum.at(last_ignored, idx[ignored], released[ignored])
        needed = policy.fatigue_ignored_in_row
        self.fatigued = (
            (needed > 0)
            & (ignored_count >= max(needed, 1))
            & (last_ignored + policy.fatigue_backoff_days * DAY_US > now_us)
        )

        # decline cooldown per product of the campaign
        declined_at = np.where(contacts.outcome_us != NO_TIME, contacts.outcome_us, released)
        product = campaign.lookup(contacts.product, campaign.products)
        declined = (
            (outcome == len(ENGAGED_OUTCOMES))
            & (declined_at > campaign.days_us(policy.decline_cooldown_days))
            & (product >= 0)
        )
        self.declined = _scatter((len(campaign.products), n), (product[declined], idx[declined]))

        # the offer's own cooldown and presentations on other channels
        unique = campaign.lookup(contacts.offer, campaign.unique)
        channel = campaign.lookup(contacts.channel, channels)
        ours = unique >= 0
        cooldown = campaign.cooldown_us[np.maximum(unique, 0)]
        cooling = ours & (channel >= 0) & (cooldown > 0) & (released > now_us - cooldown)
        self.cooling = _scatter(
            (n_channels, n_unique, n), (channel[cooling], unique[cooling], idx[cooling])
        )
        recent = ours & (released > campaign.days_us(policy.presented_elsewhere_days))
        on_ours = recent & (channel >= 0)
        self.presented_on = _scatter(
            (n_channels, n_unique, n), (channel[on_ours], unique[on_ours], idx[on_ours])
        )
        off = recent & (channel < 0)
        self.presented_off = _scatter((n_unique, n), (unique[off], idx[off]))
        clicked = recent & engaged
        self.engaged = _scatter((n_unique, n), (unique[clicked], idx[clicked]))

        cap = campaign.plan.campaign.per_customer_cap
        if cap is None:
            self.capped = np.zeros(n, dtype=bool)
        else:
            mine = idx[contacts.campaign_id == campaign.plan.id]
            self.capped = np.bincount(mine, minlength=n) >= cap

        # suppression entries in force
        suppressions = batch.suppressions
        s_idx = suppressions.customer_index
        active = suppressions.until_us > now_us
        scope = campaign.lookup(
            suppressions.scope, ("all", "offer", "product", "family", "channel")
        )

        def scoped(kind: int, targets: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            target = campaign.lookup(suppressions.value, targets)
            where = active & (scope == kind) & (target >= 0)
            return target[where], s_idx[where]

        self.suppress_all = _scatter((n,), (s_idx[active & (scope == 0)],))
        self.suppress_offer = _scatter((n_unique, n), scoped(1, campaign.unique))
        self.suppress_product = _scatter((len(campaign.products), n), scoped(2, campaign.products))
        self.suppress_family = _scatter((len(PRODUCT_FAMILIES), n), scoped(3, PRODUCT_FAMILIES))
        self.suppress_channel = _scatter((n_channels, n), scoped(4, channels))

        # hardship events in the window, by type
        events = batch.events
        event_type = campaign.lookup(events.type, campaign.hardship_types)
        recent_event = (event_type >= 0) & (
            events.occurred_us > campaign.days_us(policy.hardship_days)
        )
        self.hardship = _scatter(
            (len(campaign.hardship_types), n),
            (event_type[recent_event], events.customer_index[recent_event]),
        )
        # (bool, n); numpy's stubs cannot tell a reduction over axis 0 keeps an array
        self.in_hardship = cast(np.ndarray, self.hardship.any(axis=0))

        # quiet hours, computed once per time zone
        tz = batch.columns.get("time_zone")
        categories = tz.categories if isinstance(tz, StringColumn) else ()
        codes = tz.codes if isinstance(tz, StringColumn) else np.full(n, -1, dtype=np.int32)
        until = []
        for name in (*categories, None):
            moment = quiet_hours(
                campaign.now,
                zone(name, policy.default_time_zone),
                policy.quiet_start,
                policy.quiet_end,
            )
            until.append(NO_TIME if moment is None else to_us(moment))
        self.quiet_until = np.asarray(until, dtype=np.int64)[codes]  # -1: the default zone
        self.quiet = self.quiet_until != NO_TIME

        # consent per channel: some need an explicit grant, the rest are open unless revoked
        self.consent = np.zeros((n_channels, n), dtype=bool)
        for k, name in enumerate(channels):
            recorded = batch.consents.get(name)
            if recorded is None:
                self.consent[k] = name not in EXPLICIT_CONSENT
            else:
                self.consent[k] = recorded == 1 if name in EXPLICIT_CONSENT else recorded != -1
        # an address for each channel that delivers to one (unknown: reachable)
        self.reachable = np.ones((n_channels, n), dtype=bool)
        for k, name in enumerate(channels):
            known = batch.addresses.get(CONTACT_FIELD.get(name, ""))
            if known is not None:
                self.reachable[k] = known


_P = np.int8(r.PASSED)


class _Stage:
    """One check's writer into a first-failure matrix (offers x customers).

    A cell takes the minimum of its stage index and the check's, so the order in which
    checks are applied is irrelevant, and each costs one pass of int8 ``minimum`` over
    the matrix (skipped when nothing fails).
    """

    __slots__ = ("index", "matrix")

    def __init__(self, matrix: np.ndarray, reason: str) -> None:
        self.matrix = matrix
        self.index = np.int8(r.STAGE_INDEX[reason])

    def customers(self, rows: np.ndarray, offers: np.ndarray | None = None) -> None:
        """Customers ``rows`` (bool, n) fail on ``offers`` (bool, m; default all)."""
        if not rows.any() or (offers is not None and not offers.any()):
            return
        code = np.where(rows, self.index, _P)[None, :]
        if offers is not None:
            code = np.maximum(code, np.where(offers, self.index, _P)[:, None])
        np.minimum(self.matrix, code, out=self.matrix)

    def offers(self, offers: np.ndarray) -> None:
        """Offers (bool, m) fail for every customer."""
        if offers.any():
            code = np.where(offers, self.index, _P)[:, None]
            np.minimum(self.matrix, code, out=self.matrix)

    def cells(self, mask: np.ndarray) -> None:
        """(offer, customer) cells (bool, m x n) fail."""
        if mask.any():
            np.minimum(self.matrix, np.where(mask, self.index, _P), out=self.matrix)

    def everywhere(self) -> None:
        """Every candidate fails (a cell failed at an earlier stage keeps that stage)."""
        np.minimum(self.matrix, self.index, out=self.matrix)


class _Run(NamedTuple):
    """What a stage reads: the campaign, the chunk's policy arrays and its customers."""

    campaign: _Campaign
    chunk: _Chunk
    batch: CustomerBatch
    source: BatchSource
    audience: np.ndarray  # bool (n): in the campaign's audience
    sales_rows: np.ndarray  # bool (m x 1): the sales offers


class BatchStage(NamedTuple):
    """The vectorised form of one check: ``apply(run, stage)`` marks the candidates that
    fail it; per-channel ones are ``apply(run, stage, k)`` for the campaign's channel k."""

    reason: str
    per_channel: bool
    apply: Callable[..., None]


BATCH_STAGES: dict[str, BatchStage] = {}
MatrixApply = Callable[[_Run, _Stage], None]
ChannelApply = Callable[[_Run, _Stage, int], None]
_A = TypeVar("_A", bound=Callable[..., None])


def _register(reason: str, per_channel: bool) -> Callable[[_A], _A]:
    if reason not in r.STAGE_INDEX:
        raise ValueError(f"batch stage for {reason!r}: not a stage of reasons.STAGES")

    def register(apply: _A) -> _A:
        if reason in BATCH_STAGES:
            raise ValueError(f"two batch stages for {reason!r}")
        BATCH_STAGES[reason] = BatchStage(reason, per_channel, apply)
        return apply

    return register


def batch_stage(reason: str) -> Callable[[MatrixApply], MatrixApply]:
    """Register the vectorised form of a candidate check (or of a channel list check)."""
    return _register(reason, per_channel=False)


def channel_batch_stage(reason: str) -> Callable[[ChannelApply], ChannelApply]:
    """Register the vectorised form of a check of one channel (``policy.channel_check``)."""
    return _register(reason, per_channel=True)


# --- the stages, one per check of reasons.CANDIDATE_STAGES and CHANNEL_STAGES -------------


@batch_stage(r.ERASED)
def _erased(run: _Run, stage: _Stage) -> None:
    stage.customers(run.batch.erased)


@batch_stage(r.OFFER_NOT_ACTIVE)
def _offer_not_active(run: _Run, stage: _Stage) -> None:
    stage.offers(run.campaign.inactive)


@batch_stage(r.NOT_IN_AUDIENCE)
def _not_in_audience(run: _Run, stage: _Stage) -> None:
    stage.customers(~run.audience)


@batch_stage(r.INELIGIBLE)
def _ineligible(run: _Run, stage: _Stage) -> None:
    ineligible: dict[Any, np.ndarray] = {}
    rows: list[np.ndarray | None] = []
    for offer in run.campaign.offers:
        rule = offer.offer.eligibility
        if rule.always_true:
            rows.append(None)
            continue
        if rule not in ineligible:
            ineligible[rule] = ~rule.mask(run.source, run.campaign.now_us)
        rows.append(ineligible[rule])
    if ineligible:
        table = np.zeros(stage.matrix.shape, dtype=bool)
        for j, row in enumerate(rows):
            if row is not None:
                table[j] = row
        stage.cells(table)


@batch_stage(r.HOLDS_PRODUCT)
def _holds_product(run: _Run, stage: _Stage) -> None:
    held = run.source.held_families()
    if held.any():
        stage.cells(held[run.campaign.offer_family] & run.sales_rows)


@batch_stage(r.HARDSHIP_PROTECTION)
def _hardship_protection(run: _Run, stage: _Stage) -> None:
    stage.customers(run.chunk.in_hardship, run.campaign.credit_sales)


@batch_stage(r.DO_NOT_CONTACT)
def _do_not_contact(run: _Run, stage: _Stage) -> None:
    stage.customers(run.batch.do_not_contact, run.campaign.sales)


@batch_stage(r.GLOBAL_OPT_OUT)
def _global_opt_out(run: _Run, stage: _Stage) -> None:
    stage.customers(run.batch.global_opt_out, run.campaign.sales)


@batch_stage(r.SUPPRESSED)
def _suppressed(run: _Run, stage: _Stage) -> None:
    chunk, campaign = run.chunk, run.campaign
    stage.customers(chunk.suppress_all)
    if chunk.suppress_offer.any():
        stage.cells(campaign.by_offer(chunk.suppress_offer))
    if chunk.suppress_product.any():
        stage.cells(chunk.suppress_product[campaign.offer_product])
    if chunk.suppress_family.any():
        stage.cells(chunk.suppress_family[campaign.offer_family])


@batch_stage(r.COOLDOWN_AFTER_DECLINE)
def _cooldown_after_decline(run: _Run, stage: _Stage) -> None:
    if run.chunk.declined.any():
        stage.cells(run.chunk.declined[run.campaign.offer_product] & run.sales_rows)


@batch_stage(r.FATIGUE_BACKOFF)
def _fatigue_backoff(run: _Run, stage: _Stage) -> None:
    stage.customers(run.chunk.fatigued, run.campaign.sales)


@batch_stage(r.CAMPAIGN_CAP)
def _campaign_cap(run: _Run, stage: _Stage) -> None:
    stage.customers(run.chunk.capped)


@batch_stage(r.FREQUENCY_CAP)
def _frequency_cap(run: _Run, stage: _Stage) -> None:
    stage.customers(run.chunk.budget <= 0, run.campaign.sales)


@batch_stage(r.NO_CHANNEL)
def _no_channel(run: _Run, stage: _Stage) -> None:
    if not run.campaign.channels:
        stage.everywhere()


@channel_batch_stage(r.NO_CONSENT)
def _no_consent(run: _Run, stage: _Stage, k: int) -> None:
    stage.customers(~run.chunk.consent[k], run.campaign.sales)


@channel_batch_stage(r.NO_CONTACT)
def _no_contact(run: _Run, stage: _Stage, k: int) -> None:
    stage.customers(~run.chunk.reachable[k], run.campaign.sales)


@channel_batch_stage(r.CHANNEL_SUPPRESSED)
def _channel_suppressed(run: _Run, stage: _Stage, k: int) -> None:
    stage.customers(run.chunk.suppress_channel[k])


@channel_batch_stage(r.CONTENT_NOT_APPROVED)
def _content_not_approved(run: _Run, stage: _Stage, k: int) -> None:
    stage.offers(run.campaign.no_content[k])


@channel_batch_stage(r.OFFER_COOLDOWN)
def _offer_cooldown(run: _Run, stage: _Stage, k: int) -> None:
    if run.chunk.cooling[k].any():
        stage.cells(run.campaign.by_offer(run.chunk.cooling[k]))


@channel_batch_stage(r.PRESENTED_ELSEWHERE)
def _presented_elsewhere(run: _Run, stage: _Stage, k: int) -> None:
    chunk = run.chunk
    elsewhere = chunk.presented_off.copy()
    for other in range(len(run.campaign.channels)):
        if other != k:
            elsewhere |= chunk.presented_on[other]
    elsewhere &= ~chunk.engaged
    if elsewhere.any():
        stage.cells(run.campaign.by_offer(elsewhere) & run.sales_rows)


def wire(
    stages: Mapping[str, BatchStage] = BATCH_STAGES,
    candidate_stages: Sequence[str] = r.CANDIDATE_STAGES,
    channel_stages: Sequence[str] = r.CHANNEL_STAGES,
) -> tuple[tuple[BatchStage, ...], tuple[BatchStage, ...]]:
    """(stages applied to the candidate matrix, stages applied per channel), in stage
    order. Raises ``LookupError`` when a stage has no batch stage or one of the wrong kind.
    """
    ordered = []
    for reason in (*candidate_stages, *channel_stages):
        stage = stages.get(reason)
        if stage is None:
            raise LookupError(
                f"stage {reason!r} (reasons.py) has no batch stage: register one in batch.py "
                f"with @batch_stage or @channel_batch_stage"
            )
        ordered.append(stage)
    extra = sorted(set(stages) - {*candidate_stages, *channel_stages})
    if extra:
        raise LookupError(
            f"batch stages registered outside CANDIDATE_STAGES and CHANNEL_STAGES: {extra}"
        )
    matrix = tuple(stage for stage in ordered if not stage.per_channel)
    per_channel = tuple(stage for stage in ordered if stage.per_channel)
    if any(stage.per_channel for stage in ordered[: len(candidate_stages)]):
        raise LookupError("a candidate stage cannot be a per-channel batch stage")
    if ordered[len(ordered) - len(per_channel) :] != list(per_channel):
        raise LookupError("per-channel batch stages must come last in reasons.CHANNEL_STAGES")
    return matrix, per_channel


_MATRIX_STAGES, _CHANNEL_STAGES = wire()


def _evaluate_chunk(
    campaign: _Campaign, batch: CustomerBatch, volume_left: int
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """One chunk: per-customer result arrays, candidates counted by the stage that removed
    them (``PASSED`` last), and the customers released to (for the volume limit)."""
    plan = campaign.plan
    n, m = batch.size, len(campaign.offers)
    source = batch.source(campaign.snapshot.product_family)
    chunk = _Chunk(campaign, batch)

    if len(plan.arms) > 1:
        arm = pick_arm_array(plan.id, batch.customer_ids, plan.arm_thresholds)
        matrix = np.where(campaign.offer_arm[:, None] == arm[None, :], _P, np.int8(-1))
    else:
        arm = np.zeros(n, dtype=np.int64)
        matrix = np.full((m, n), _P, dtype=np.int8)

    # candidate-level checks (reasons.CANDIDATE_STAGES) and the channel list check
    audience = plan.campaign.audience.mask(source, campaign.now_us)
    run = _Run(campaign, chunk, batch, source, audience, campaign.sales[:, None])
    for stage in _MATRIX_STAGES:
        stage.apply(run, _Stage(matrix, stage.reason))

    # per-channel checks (reasons.CHANNEL_STAGES): the channel that got furthest counts
    channels = campaign.channels
    alive = matrix == _P
    # bit k set: channel k passes every channel check for this (offer, customer)
    pattern = np.zeros((m, n), dtype=np.uint8)
    if channels and alive.any():
        best = np.full((m, n), -1, dtype=np.int8)
        for k in range(len(channels)):
            channel_matrix = np.full((m, n), _P, dtype=np.int8)
            for stage in _CHANNEL_STAGES:
                stage.apply(run, _Stage(channel_matrix, stage.reason), k)
            pattern |= (channel_matrix == _P).view(np.uint8) << np.uint8(k)
            np.maximum(best, channel_matrix, out=best)
        np.copyto(matrix, best, where=alive)

    # the campaign's daily volume, in batch order (control-group customers do not count)
    passed = matrix == _P
    would = passed.any(axis=0)
    control = in_control_array(plan.id, batch.customer_ids, plan.control_threshold)
    counted = would & ~control
    limit = plan.campaign.daily_volume_limit
    if limit is not None:
        before = np.cumsum(counted) - counted
        limited = would & (before >= volume_left)
        if limited.any():
            index = np.int8(r.STAGE_INDEX[r.VOLUME_LIMIT])
            np.copyto(matrix, index, where=passed & limited[None, :])
            would &= ~limited
            counted &= ~limited
    consumed = int(counted.sum())

    picks = _Picks(n, campaign.slots)
    live = np.flatnonzero(would)
    if len(live):
        # channel choice: the first passing channel not in quiet hours, else the first one
        quiet = chunk.quiet[live].astype(np.uint8)[None, :]
        chosen = campaign.channel_choice[(quiet << np.uint8(len(channels))) | pattern[:, live]]
        _arbitrate(campaign, chunk, source, live, chosen, matrix[:, live] == _P, picks)

    released_any = picks.taken > 0
    stage_counts = np.bincount(matrix.ravel().astype(np.int64) + 1, minlength=r.PASSED + 2)
    outcome = np.full(n, r.OUTCOME_INDEX[r.NO_CANDIDATES], dtype=np.int8)
    furthest = matrix.max(axis=0, initial=-1)
    has_candidates = furthest >= 0
    outcome[has_candidates] = furthest[has_candidates] + r.OUTCOME_INDEX[r.STAGES[0]]
    outcome[released_any & ~control] = r.OUTCOME_INDEX[r.RELEASED]
    outcome[released_any & control] = r.OUTCOME_INDEX[r.CONTROL_GROUP]
    return (
        {
            "arm": arm.astype(np.int8),
            "in_audience": audience,
            "chosen": picks.offer,
            "chosen_channel": picks.channel,
            "chosen_score": picks.score,
            "chosen_propensity": picks.propensity,
            "deliver_after_us": picks.deliver_after,
            "control": control & released_any,
            "outcome": outcome,
        },
        stage_counts[1:],
        consumed,
    )


class _Picks:
    """Per customer and slot (rank order): the offers arbitration picked."""

    __slots__ = ("channel", "deliver_after", "offer", "propensity", "score", "taken")

    def __init__(self, n: int, slots: int) -> None:
        self.offer = np.full((n, slots), -1, dtype=np.int16)
        self.channel = np.full((n, slots), -1, dtype=np.int8)
        self.score = np.full((n, slots), np.nan)
        self.propensity = np.full((n, slots), np.nan)
        self.deliver_after = np.full((n, slots), NO_TIME, dtype=np.int64)
        self.taken = np.zeros(n, dtype=np.int64)


def _first_max(key: np.ndarray) -> np.ndarray:
    """Per column, the first row holding the column's maximum (ties -> lowest offer index)."""
    top = key.max(axis=0)
    first = np.zeros(key.shape[1], dtype=np.int64)
    for j in range(key.shape[0] - 1, -1, -1):
        first[key[j] == top] = j
    return first


def _arbitrate(
    campaign: _Campaign,
    chunk: _Chunk,
    source: BatchSource,
    live: np.ndarray,
    chosen: np.ndarray,
    available: np.ndarray,
    picks: _Picks,
) -> None:
    """Scores and greedy picks for the customers with a candidate left.

    Arrays here are (offers x live customers); ``chosen`` is each candidate's channel.
    """
    m, count = available.shape
    quiet = chunk.quiet[live]
    quiet_until = chunk.quiet_until[live]

    # score = propensity (the product's model, or the offer's prior) x value x lever x 1.0
    propensity = np.empty((m, count), dtype=np.float64)
    by_product: dict[str, np.ndarray] = {}
    for row, offer in enumerate(campaign.offers):
        evaluator = campaign.evaluators.get(offer.product_code)
        if evaluator is None:
            propensity[row] = campaign.priors[row]
        else:
            if offer.product_code not in by_product:
                by_product[offer.product_code] = evaluator.propensity_array(
                    source, campaign.now_us
                )[live]
            propensity[row] = by_product[offer.product_code]
        if explores(offer.offer):
            # cold start: Thompson draws in a share of decisions, as the scalar engine
            chosen_ids = source.batch.customer_ids[live]
            exploring, draws = thompson_draws(offer.offer, chosen_ids, campaign.now_us)
            propensity[row, exploring] = draws[exploring]
    score = propensity * campaign.value[:, None] * campaign.lever[:, None] * 1.0
    promoted = np.zeros((m, count), dtype=bool)
    if campaign.relief.any():
        hardship = chunk.hardship[:, live]
        for h in range(hardship.shape[0]):
            promoted |= hardship[h][None, :] & campaign.relief[:, h : h + 1]
        promoted &= campaign.service[:, None]

    family_taken = np.zeros((len(PRODUCT_FAMILIES), count), dtype=bool)
    per_channel = np.zeros((max(len(campaign.channels), 1), count), dtype=np.int64)
    budget = chunk.budget[live].copy()
    columns = np.arange(count)
    for round_ in range(min(picks.offer.shape[1], m)):
        if round_ == 0:
            open_now = available  # nothing taken yet: every constraint holds
        else:
            open_now = available & ~family_taken[campaign.offer_family]
            open_now &= campaign.service[:, None] | (budget > 0)[None, :]
            for k in range(per_channel.shape[0]):
                full = per_channel[k] >= campaign.max_offers
                if full.any():
                    open_now &= ~((chosen == k) & full[None, :])
        has_any = open_now.any(axis=0)
        if not has_any.any():
            break
        best = _first_max(np.where(open_now, score, -np.inf))
        if promoted.any():
            open_promoted = open_now & promoted
            has_promoted = open_promoted.any(axis=0)
            if has_promoted.any():
                best = np.where(
                    has_promoted, _first_max(np.where(open_promoted, score, -np.inf)), best
                )
        who = columns[has_any]
        j = best[has_any]
        target = live[who]
        slot = picks.taken[target]
        channel_k = chosen[j, who]
        safe_k = np.maximum(channel_k, 0)
        picks.offer[target, slot] = j
        picks.channel[target, slot] = channel_k
        picks.score[target, slot] = score[j, who]
        picks.propensity[target, slot] = propensity[j, who]
        deferred = quiet[who] & campaign.quiet_channel[safe_k] & (channel_k >= 0)
        picks.deliver_after[target, slot] = np.where(deferred, quiet_until[who], NO_TIME)
        picks.taken[target] += 1
        family_taken[campaign.offer_family[j], who] = True
        per_channel[safe_k, who] += 1
        budget[who] -= campaign.sales[j]
        available[j, who] = False


def decide_batch(
    snapshot: Snapshot,
    batch: CustomerBatch,
    request: DecisionRequest,
    *,
    chunk_size: int = DEFAULT_CHUNK,
) -> BatchResult:
    """Evaluate ``request.campaign_ids`` (exactly one campaign) over every customer.

    ``request.campaign_volume_today[campaign_id]`` is the campaign's count before the
    run; the daily volume limit is filled in batch order.
    """
    require_aware(request.now, "request.now")
    if request.mode != "batch" or not request.campaign_ids or len(request.campaign_ids) != 1:
        raise ValueError("decide_batch needs a batch request for exactly one campaign")
    (campaign_id,) = tuple(request.campaign_ids)
    plan = snapshot.plans.get(campaign_id)
    if plan is None:
        raise ValueError(f"campaign {campaign_id} is not in the snapshot")
    if request.max_offers is not None and request.max_offers < 1:
        raise ValueError("max_offers must be at least 1")
    campaign = _Campaign(snapshot, plan, request)
    used = request.campaign_volume_today.get(campaign_id, 0)
    limit = plan.campaign.daily_volume_limit
    n, slots = batch.size, campaign.slots
    merged = {
        "arm": np.zeros(n, dtype=np.int8),
        "in_audience": np.zeros(n, dtype=bool),
        "chosen": np.zeros((n, slots), dtype=np.int16),
        "chosen_channel": np.zeros((n, slots), dtype=np.int8),
        "chosen_score": np.zeros((n, slots)),
        "chosen_propensity": np.zeros((n, slots)),
        "deliver_after_us": np.zeros((n, slots), dtype=np.int64),
        "control": np.zeros(n, dtype=bool),
        "outcome": np.zeros(n, dtype=np.int8),
    }
    stage_counts = np.zeros(r.PASSED + 1, dtype=np.int64)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        left = (limit - used) if limit is not None else 0
        arrays, counts, consumed = _evaluate_chunk(campaign, batch.take(start, stop), left)
        used += consumed
        stage_counts += counts
        for key, values in arrays.items():
            merged[key][start:stop] = values
    return BatchResult(
        campaign_id=campaign_id,
        campaign_code=plan.code,
        shadow=plan.shadow,
        offer_codes=tuple(o.code for o in campaign.offers),
        offer_arms=tuple(o.entry.arm for o in campaign.offers),
        offer_products=tuple(o.product_code for o in campaign.offers),
        channels=campaign.channels,
        arms=plan.arms,
        customer_ids=batch.customer_ids,
        volume_used=used,
        policy_version=snapshot.policy.version,
        snapshot_version=snapshot.version,
        model_versions={code: e.spec.version for code, e in sorted(campaign.evaluators.items())},
        candidate_counts={
            name: int(count)
            for name, count in zip((*r.STAGES, "passed"), stage_counts, strict=True)
            if count
        },
        **merged,
    )


__all__ = [
    "BATCH_STAGES",
    "NO_TIME",
    "BatchResult",
    "BatchSource",
    "ContactLog",
    "CustomerBatch",
    "EventLog",
    "SuppressionLog",
    "batch_stage",
    "channel_batch_stage",
    "decide_batch",
]
