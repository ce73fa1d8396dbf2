"""Decisioning reads: every query the console and the channel API make of this layer.

Views and API views call these and run no ORM queries themselves. Lists come back as
lazy querysets with the joins their templates or serializers need, so a page reads each
of them once, when it is rendered; what a view must look at first (a lookup that may 404,
a row it mutates for display) is read here.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun
from compliance import selectors as compliance_selectors
from compliance.models import Consent, DoNotContact, ErasureRequest, SuppressionEntry
from core.paging import KeysetPage, keyset_by_time
from customers.models import Customer, Event, Holding, IdentityLink
from customers.pseudonyms import pseudonym_for
from decisioning.engine.reasons import TRIGGER_OUTCOMES
from decisioning.filtersets import DecisionFilterSet
from decisioning.models import Contact, Decision, Message, Override, Response
from decisioning.outbound.cancel import pending_for_customer
from offers.models import Product

# --- the decision ledger -----------------------------------------------------------------

LEDGER_PAGE_SIZE = 50
LEDGER_SCAN_WINDOW = 20_000
# Decision filters no index serves: checked row by row within the window.
LEDGER_UNINDEXED = frozenset({"channel", "mode", "control_group", "shadow", "outcome"})

# What a ledger row shows; the explanation JSON stays in the database until asked for.
LEDGER_FIELDS = (
    "id",
    "created_at",
    "mode",
    "channel",
    "control_group",
    "shadow",
    "offers_released",
    "top_offer_code",
    "outcome_reason",
    "policy_version",
    "customer__id",
    "customer__external_id",
    "campaign__id",
    "campaign__code",
)


def decision_list() -> QuerySet[Decision]:
    """The ledger's rows: only the columns a row shows, customer and campaign joined."""
    return Decision.objects.select_related("customer", "campaign").only(*LEDGER_FIELDS)


@dataclass(frozen=True)
class DecisionLedgerPage:
    """One keyset page of the decision ledger and the filters that chose it."""

    filterset: DecisionFilterSet
    page: KeysetPage


def decision_ledger_page(
    *, params: Mapping[str, Any] | None, before: str | None, after: str | None
) -> DecisionLedgerPage:
    """Newest first, ``LEDGER_PAGE_SIZE`` rows past the cursor; never counts the table.

    Filters an index serves (customer, campaign, days) narrow the index scan. The others
    (channel, mode, control group, shadow, outcome) are checked within a window of the
    ``LEDGER_SCAN_WINDOW`` decisions just past the cursor, and a page that runs out of
    window says so (``page.searched``) instead of walking the whole ledger.
    """
    queryset = decision_list()
    filterset = DecisionFilterSet(params, queryset=queryset)
    valid = filterset.is_valid()
    data = filterset.form.cleaned_data if valid else {}
    window_queryset = None
    if not data.get("customer") and any(
        data.get(name) not in (None, "") for name in LEDGER_UNINDEXED
    ):
        # A customer's decisions are few: read them all. Otherwise bound the scan.
        window_queryset = Decision.objects.all()
        for name in ("date_from", "date_to"):
            if data.get(name):
                window_queryset = filterset.filters[name].filter(window_queryset, data[name])
    page = keyset_by_time(
        filterset.qs if valid else queryset.none(),
        before=before,
        after=after,
        per_page=LEDGER_PAGE_SIZE,
        window_queryset=window_queryset,
        window_rows=LEDGER_SCAN_WINDOW,
    )
    return DecisionLedgerPage(filterset=filterset, page=page)


# --- one decision ------------------------------------------------------------------------


def decision_get(*, pk: uuid.UUID | str) -> Decision | None:
    """A decision with its customer, campaign, run and event joined, or None."""
    return (
        Decision.objects.select_related("customer", "campaign", "run", "event")
        .filter(pk=pk)
        .first()
    )


def decision_explanation_get(*, pk: uuid.UUID | str) -> Decision | None:
    """A decision with what its explanation is derived from (``decisions.explanation``):
    the stored explanation and offers, and the customer (a batch decision is replayed)."""
    return Decision.objects.select_related("customer").filter(pk=pk).first()


@dataclass(frozen=True)
class DecisionTrail:
    """What followed a decision, oldest first; each list a lazy queryset."""

    messages: QuerySet[Message]
    contacts: QuerySet[Contact]
    responses: QuerySet[Response]
    overrides: QuerySet[Override]


def decision_trail(*, decision: Decision) -> DecisionTrail:
    """A decision's messages, released contacts, responses and overrides, offers joined."""
    return DecisionTrail(
        messages=decision.messages.select_related("offer", "content").order_by("created_at"),
        contacts=decision.contacts.select_related("offer").order_by("released_at"),
        responses=decision.responses.select_related("offer").order_by("occurred_at"),
        overrides=decision.overrides.select_related("offer").order_by("created_at"),
    )


# --- Customer 360 ------------------------------------------------------------------------

CUSTOMER_DECISIONS = 10
CUSTOMER_ROWS = 20
CUSTOMER_SUPPRESSIONS = 50


@dataclass(frozen=True)
class Customer360:
    """Everything Customer 360 shows of one customer; the row lists are lazy querysets."""

    customer: Customer
    holdings: list[Holding]  # each with ``.product``: the catalog's product, or None
    identities: QuerySet[IdentityLink]
    consents: QuerySet[Consent]
    do_not_contact: DoNotContact | None
    suppressions: list[SuppressionEntry]  # the latest, each with ``.active`` (at ``now``)
    events: QuerySet[Event]
    decisions: list[Decision]
    messages_sent: QuerySet[Message]
    responses: QuerySet[Response]
    contacts: QuerySet[Contact]
    erasures: QuerySet[ErasureRequest]
    now: datetime.datetime


def customer_360(*, external_id: str) -> Customer360 | None:
    """The customer with this bank id and every layer's rows about them, or None."""
    customer = (
        Customer.objects.select_related("do_not_contact").filter(external_id=external_id).first()
    )
    if customer is None:
        return None
    now = timezone.now()
    holdings = list(customer.holdings.order_by("closed_at", "product_code"))
    products = {
        product.code: product
        for product in Product.objects.filter(
            code__in={holding.product_code for holding in holdings}
        ).only("id", "code", "name", "family")
    }
    for holding in holdings:
        holding.product = products.get(holding.product_code)  # type: ignore[attr-defined]
    suppressions = list(
        SuppressionEntry.objects.filter(customer=customer).order_by("-created_at")[
            :CUSTOMER_SUPPRESSIONS
        ]
    )
    for entry in suppressions:
        entry.active = entry.until is None or entry.until > now  # type: ignore[attr-defined]
    decisions = list(
        Decision.objects.filter(customer=customer)
        .select_related("campaign")
        .defer("explanation", "offers", "suppressed")
        .order_by("-created_at")[:CUSTOMER_DECISIONS]
    )
    return Customer360(
        customer=customer,
        holdings=holdings,
        identities=IdentityLink.objects.filter(customer=customer).order_by("type", "value"),
        consents=_consents(customer),
        # Joined with the customer: no query of its own.
        do_not_contact=getattr(customer, "do_not_contact", None),
        suppressions=suppressions,
        events=_with_trigger_refusal(
            Event.objects.filter(customer=customer).defer("payload", "customer_ref")
        ).order_by("-occurred_at")[:CUSTOMER_ROWS],
        decisions=decisions,
        messages_sent=Message.objects.filter(customer=customer)
        .select_related("offer", "campaign", "content")
        .order_by("-created_at")[:CUSTOMER_ROWS],
        responses=Response.objects.filter(customer=customer)
        .select_related("offer")
        .order_by("-occurred_at")[:CUSTOMER_ROWS],
        contacts=Contact.objects.filter(customer=customer)
        .select_related("offer", "campaign")
        .order_by("-released_at")[:CUSTOMER_ROWS],
        erasures=ErasureRequest.objects.filter(
            Q(customer=customer) | Q(customer_ref=customer.pseudonym)
        ).order_by("-requested_at"),
        now=now,
    )


def _with_trigger_refusal(events: QuerySet[Event]) -> QuerySet[Event]:
    """Each event with ``trigger_refusal``: why a campaign's trigger refused it (too old,
    in the future, condition not met), or None; ``trigger_refused_by``: that campaign's
    code. In the events' own query."""
    refusals = Decision.objects.filter(
        event=OuterRef("pk"), outcome_reason__in=TRIGGER_OUTCOMES
    ).order_by("campaign__code")
    return events.annotate(
        trigger_refusal=Subquery(refusals.values("outcome_reason")[:1]),
        trigger_refused_by=Subquery(refusals.values("campaign__code")[:1]),
    )


def _consents(customer: Customer) -> QuerySet[Consent]:
    return Consent.objects.filter(customer=customer).order_by("channel")


@dataclass(frozen=True)
class CustomerConsents:
    """The consents panel of Customer 360: consents by channel, and do-not-contact."""

    consents: QuerySet[Consent]
    do_not_contact: DoNotContact | None


def customer_consents(*, customer: Customer) -> CustomerConsents:
    """A customer's consents (lazy) and do-not-contact (read now), as recorded."""
    return CustomerConsents(
        consents=_consents(customer),
        do_not_contact=DoNotContact.objects.filter(customer=customer).first(),
    )


def customer_overview(*, external_id: str) -> Customer | None:
    """A profile with open holdings, consents, do-not-contact and the suppressions in
    force now, in four queries."""
    now = timezone.now()
    return (
        Customer.objects.filter(external_id=external_id)
        .prefetch_related(
            Prefetch(
                "holdings",
                queryset=Holding.objects.filter(closed_at__isnull=True).order_by("product_code"),
                to_attr="open_holdings",
            ),
            Prefetch(
                "consents", queryset=Consent.objects.order_by("channel"), to_attr="consent_list"
            ),
            Prefetch(
                "suppressions",
                queryset=SuppressionEntry.objects.filter(
                    Q(until__isnull=True) | Q(until__gt=now)
                ).order_by("created_at", "pk"),
                to_attr="open_suppressions",
            ),
        )
        .select_related("do_not_contact")
        .first()
    )


# --- erasure -----------------------------------------------------------------------------


def erasure_list() -> QuerySet[ErasureRequest]:
    """Erasure requests, newest first, with the customer (while not erased) joined."""
    return compliance_selectors.erasure_list().select_related("customer")


def earlier_erasure(*, external_id: str) -> ErasureRequest | None:
    """The erasure of the customer who had this bank id, if they were erased."""
    return (
        ErasureRequest.objects.filter(customer_ref=pseudonym_for(external_id))
        .order_by("-requested_at")
        .first()
    )


# --- campaigns and messages, as decisioning's screens and channel actions name them ------


def campaign_get(*, pk: int) -> Campaign | None:
    """The campaign a batch run or a simulation is started for, or None."""
    return Campaign.objects.filter(pk=pk).first()


def message_channel(*, message_id: uuid.UUID | str) -> str | None:
    """The channel of an outbound message, or None when there is no such message."""
    return Message.objects.filter(pk=message_id).values_list("channel", flat=True).first()


def run_get(*, pk: int) -> CampaignRun | None:
    """A batch run with its campaign, or None."""
    return CampaignRun.objects.select_related("campaign").filter(pk=pk).first()


def pending_sales_messages(*, customer: Customer, channels: Iterable[str]) -> int:
    """How many of the customer's queued or leased sales messages on ``channels`` a consent
    revoke or do-not-contact would cancel now."""
    return pending_for_customer(customer=customer, channels=channels).count()
