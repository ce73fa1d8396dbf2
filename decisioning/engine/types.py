"""The engine's inputs: plain frozen data a Django loader fills from rows.

Catalog and configuration (``ProductSpec``, ``OfferSpec``, ``CampaignSpec``,
``PolicySpec``, ``ModelSpec``) are compiled once into a ``Snapshot`` (see
``snapshot.build_snapshot``); the customer (``CustomerContext``) and the request
(``DecisionRequest``) come with each decision. Every datetime is timezone-aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Literal

from .rules import ALWAYS, PAYLOAD_ALWAYS, PayloadRule, Rule

OfferKind = Literal["sales", "service"]
SALES: Literal["sales"] = "sales"
SERVICE: Literal["service"] = "service"

RUNNING = "running"
ACTIVE = "active"

# campaign kinds
KIND_REALTIME = "realtime"
KIND_BATCH = "batch"
KIND_INBOUND = "inbound"

Mode = Literal["event", "absence", "inbound", "batch"]
MODES: frozenset[str] = frozenset({"event", "absence", "inbound", "batch"})

OUTCOME_IMPRESSION = "impression"
OUTCOME_CLICK = "click"
OUTCOME_ACCEPT = "accept"
OUTCOME_DECLINE = "decline"
OUTCOME_DISMISS = "dismiss"
# A sales release counts as "engaged" (not ignored) with one of these outcomes.
ENGAGED_OUTCOMES: frozenset[str] = frozenset({OUTCOME_CLICK, OUTCOME_ACCEPT})

EMPTY: Mapping[Any, Any] = MappingProxyType({})


def _empty() -> Mapping[Any, Any]:
    return EMPTY


@dataclass(frozen=True, slots=True)
class ProductSpec:
    code: str
    name: str
    family: str  # cards, loans, mortgages, deposits, insurance, investments
    annual_value: float
    is_credit: bool = False


@dataclass(frozen=True, slots=True)
class ContentSpec:
    """An APPROVED content version of an offer on one channel."""

    offer_code: str
    channel: str
    version: int
    content_hash: str
    headline: str
    body: str = ""
    call_to_action: str = ""
    disclosure: str = ""


@dataclass(frozen=True, slots=True)
class OfferSpec:
    code: str
    product: ProductSpec
    kind: OfferKind = SALES
    status: str = ACTIVE
    valid_from: datetime | None = None
    valid_until: datetime | None = None  # exclusive
    eligibility: Rule = ALWAYS
    lever: float = 1.0
    # The same offer is not released again on the same channel within this many days
    # (0 = no offer-level cooldown; the policy's cross-channel rule still applies).
    cooldown_days: int = 0
    # Context weight when the triggering event type is relevant; 1.0 otherwise.
    trigger_weights: Mapping[str, float] = field(default_factory=_empty)
    value: float | None = None  # overrides the product's annual value
    prior_presented: int = 0
    prior_accepted: int = 0
    contents: Mapping[str, ContentSpec] = field(
        default_factory=_empty
    )  # approved content by channel
    # Hardship event types this service action answers; empty means the hardship
    # event types among ``trigger_weights``.
    hardship_relief: frozenset[str] = frozenset()

    @property
    def family(self) -> str:
        return self.product.family

    @property
    def expected_value(self) -> float:
        return self.product.annual_value if self.value is None else self.value


@dataclass(frozen=True, slots=True)
class CampaignOffer:
    offer_code: str
    arm: str = "A"
    weight: float = 1.0


# A trigger fires on events at most this old (``TriggerSpec.max_age``) by default...
DEFAULT_TRIGGER_MAX_AGE = timedelta(hours=24)
# ...and on events dated at most this far ahead of the decision's clock.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """What an event of one type must be for a campaign to fire on it.

    ``condition`` is a rule over the event's payload; ``pages``, when given, are page
    patterns (``pages``) the payload's ``page`` must match; ``max_age`` is how late the
    campaign may fire: after the event for a real-time trigger, after the end of the
    wait for a journey (absence) trigger.
    """

    event_type: str
    condition: PayloadRule = PAYLOAD_ALWAYS
    pages: tuple[str, ...] = ()
    max_age: timedelta = DEFAULT_TRIGGER_MAX_AGE


@dataclass(frozen=True, slots=True)
class TriggerEvent:
    """The signal behind an event or absence decision, as the trigger reads it."""

    occurred_at: datetime
    payload: Mapping[str, Any] = field(default_factory=_empty)
    # Journeys: the wait the campaign's absence trigger imposes (None for real-time).
    waited: timedelta | None = None


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    id: int
    code: str
    name: str = ""
    status: str = RUNNING
    kind: str = KIND_INBOUND  # realtime | batch | inbound
    offers: tuple[CampaignOffer, ...] = ()
    audience: Rule = ALWAYS
    trigger_event_types: frozenset[str] = frozenset()
    # Per trigger event type, its condition, pages and maximum age; a type not named
    # here fires on every event of it within ``DEFAULT_TRIGGER_MAX_AGE``.
    triggers: Mapping[str, TriggerSpec] = field(default_factory=_empty)
    channels: tuple[str, ...] = ()  # in order of preference
    control_group_pct: float = 0.0  # 0-100
    daily_volume_limit: int | None = None  # customers released to per day
    per_customer_cap: int | None = None  # releases per customer, ever
    priority: int = 0  # higher wins ties
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """The contact policy (versioned); every rule of DESIGN.md 3 and 8 reads it.

    The policy's values have no defaults here: the loader passes the one in force
    (``decisioning.decisions.snapshots.active_policy_spec``), whose defaults live in
    ``campaigns.policy_defaults``; engine tests build theirs with
    ``tests.engine.builders.contact_policy``.
    """

    version: int
    daily_cap: int
    weekly_cap: int
    quiet_start: time
    quiet_end: time
    quiet_channels: frozenset[str]
    decline_cooldown_days: int
    fatigue_ignored_in_row: int
    fatigue_backoff_days: int
    presented_elsewhere_days: int
    hardship_event_types: frozenset[str]
    hardship_days: int
    # Engine settings, not contact-policy values.
    max_offers_default: int = 3
    default_time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A calibrated logistic model of P(accept): sigmoid(a * (intercept + w . x) + b)."""

    product_code: str
    version: str
    feature_names: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float = 0.0
    calibration_a: float = 1.0  # Platt scaling; (1, 0) is the identity
    calibration_b: float = 0.0


@dataclass(frozen=True, slots=True)
class SuppressionSpec:
    scope: str  # all | family | product | offer | channel
    value: str = ""
    until: datetime | None = None  # None = until lifted
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One offer released to the customer earlier, with the response if any."""

    offer_code: str
    product_code: str
    family: str
    campaign_id: int | None
    channel: str
    kind: OfferKind
    released_at: datetime
    outcome: str | None = None  # impression | click | accept | decline | dismiss
    outcome_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    type: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class OwedRecord:
    """A service action no outbound channel could deliver, owed on the next inbound visit."""

    ref: str  # the owed action's id, so the store can mark it shown
    campaign_id: int
    offer_code: str


@dataclass(frozen=True, slots=True)
class CustomerContext:
    """Everything the engine knows about one customer at decision time.

    ``consents`` holds the recorded state per channel: outbound channels need an
    explicit ``True``; inbound channels are allowed unless ``False`` (revoked).
    ``contact_history`` must cover at least the longest policy window (decline cooldown,
    weekly cap, fatigue back-off) plus the last ``fatigue_ignored_in_row`` sales releases,
    and every release of the campaigns with a per-customer cap.
    """

    customer_id: int
    external_id: str = ""
    age: int | None = None
    tenure_months: int | None = None
    region: str | None = None
    branch_code: str | None = None
    time_zone: str | None = None
    risk_band: str | None = None
    income_band: str | None = None
    segment: str | None = None
    has_email: bool | None = None
    has_phone: bool | None = None
    attributes: Mapping[str, Any] = field(default_factory=_empty)
    holdings: frozenset[str] = frozenset()
    consents: Mapping[str, bool] = field(default_factory=_empty)
    global_opt_out: bool = False
    do_not_contact: bool = False
    erased: bool = False
    suppressions: tuple[SuppressionSpec, ...] = ()
    contact_history: tuple[ContactRecord, ...] = ()
    recent_events: tuple[EventRecord, ...] = ()
    owed: tuple[OwedRecord, ...] = ()  # read for inbound decisions only
    # the contact fields (``core.channels.CONTACT_FIELD``) the customer can be reached at:
    # e-mail, phone, a device the bank is sure of; None: not known, so not checked
    addresses: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """What is asked: a signal (event), a present customer (inbound) or a batch run.

    ``campaign_volume_today`` counts the customers each campaign released to today
    (for ``daily_volume_limit``). ``event`` is the signal's time and payload: given, the
    campaigns' triggers read it (``triggers.trigger_verdict``); absent (replays, engine
    tests), triggers match on the event type alone. ``page`` is where the customer is
    (inbound ``context.page``, or a page_view's payload): offers whose trigger weights
    name a matching page pattern get that context weight.
    """

    mode: Mode
    now: datetime
    channel: str | None = None  # inbound: where the customer is
    event_type: str | None = None  # event/absence: the trigger; inbound: optional context
    event_id: str | None = None
    max_offers: int | None = None  # per channel; None = policy default
    campaign_ids: frozenset[int] | None = None  # restrict to these campaigns
    campaign_volume_today: Mapping[int, int] = field(default_factory=_empty)
    event: TriggerEvent | None = None
    page: str | None = None
