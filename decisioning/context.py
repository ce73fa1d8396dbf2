"""Loading one customer's context for the engine: a few indexed queries, nothing more."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from compliance.choices import ConsentChannel, ConsentStatus
from compliance.models import Consent, DoNotContact, SuppressionEntry
from customers.models import Customer, Event, Holding
from decisioning.engine.types import (
    ContactRecord,
    CustomerContext,
    EventRecord,
    PolicySpec,
    SuppressionSpec,
)
from decisioning.models import Contact


def age_on(birth_date: date | None, today: date) -> int | None:
    if birth_date is None:
        return None
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


def months_between(start: date | None, today: date) -> int | None:
    if start is None:
        return None
    return max(
        0, (today.year - start.year) * 12 + today.month - start.month - (today.day < start.day)
    )


def history_window_days(policy: PolicySpec, longest_offer_cooldown: int = 0) -> int:
    """How far back contact history must reach for every rule that reads it."""
    return (
        max(
            policy.decline_cooldown_days,
            policy.fatigue_backoff_days,
            policy.presented_elsewhere_days,
            7,  # the weekly cap
            longest_offer_cooldown,
        )
        + 1
    )


def local_today(customer: Customer, now: datetime) -> date:
    try:
        return now.astimezone(ZoneInfo(customer.time_zone)).date()
    except (KeyError, ValueError):
        return now.date()


def contact_records(rows) -> tuple[ContactRecord, ...]:
    return tuple(
        ContactRecord(
            offer_code=row.offer.code,
            product_code=row.product_code,
            family=row.family,
            campaign_id=row.campaign_id,
            channel=row.channel,
            kind=row.kind,
            released_at=row.released_at,
            outcome=row.outcome or None,
            outcome_at=row.outcome_at,
        )
        for row in rows
    )


def load_context(
    customer: Customer,
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int = 0,
    capped_campaign_ids: frozenset[int] = frozenset(),
    exclude_decision_id=None,
) -> CustomerContext:
    today = local_today(customer, now)
    holdings = frozenset(
        Holding.objects.filter(customer=customer, closed_at__isnull=True).values_list(
            "product_code", flat=True
        )
    )
    consents: dict[str, bool] = {}
    global_opt_out = False
    for channel, status in Consent.objects.filter(customer=customer).values_list(
        "channel", "status"
    ):
        if channel == ConsentChannel.ALL:
            global_opt_out = status == ConsentStatus.REVOKED
        else:
            consents[channel] = status == ConsentStatus.GRANTED
    suppressions = tuple(
        SuppressionSpec(scope=row.scope, value=row.value, until=row.until, reason=row.reason)
        for row in SuppressionEntry.objects.filter(customer=customer).exclude(until__lte=now)
    )

    since = now - timedelta(days=history_window_days(policy, longest_offer_cooldown))
    contacts = Contact.objects.filter(customer=customer, cancelled=False)
    if exclude_decision_id is not None:
        contacts = contacts.exclude(decision_id=exclude_decision_id)
    recent = list(
        contacts.filter(released_at__gte=since).select_related("offer").order_by("-released_at")
    )
    # Fatigue needs the last N sales releases however old they are; caps per campaign
    # need every release of those campaigns.
    seen = {row.pk for row in recent}
    sales_in_window = sum(1 for row in recent if row.kind == "sales")
    extra = []
    if sales_in_window < policy.fatigue_ignored_in_row:
        extra += list(
            contacts.filter(kind="sales")
            .exclude(pk__in=seen)
            .select_related("offer")
            .order_by("-released_at")[: policy.fatigue_ignored_in_row - sales_in_window]
        )
    if capped_campaign_ids:
        extra += list(
            contacts.filter(campaign_id__in=capped_campaign_ids)
            .exclude(pk__in=seen | {row.pk for row in extra})
            .select_related("offer")
        )
    history = sorted([*recent, *extra], key=lambda row: row.released_at)

    hardship_since = now - timedelta(days=policy.hardship_days)
    events = tuple(
        EventRecord(type=event_type, occurred_at=occurred_at)
        for event_type, occurred_at in Event.objects.filter(
            customer=customer,
            type__in=sorted(policy.hardship_event_types),
            occurred_at__gte=hardship_since,
        ).values_list("type", "occurred_at")
    )
    attributes = customer.attributes if isinstance(customer.attributes, dict) else {}
    return CustomerContext(
        customer_id=customer.pk,
        external_id=customer.external_id,
        age=age_on(customer.birth_date, today),
        tenure_months=months_between(customer.customer_since, today),
        region=customer.region or None,
        branch_code=customer.branch_code or None,
        time_zone=customer.time_zone or None,
        risk_band=customer.risk_band or None,
        income_band=customer.income_band or None,
        segment=attributes.get("segment") if isinstance(attributes.get("segment"), str) else None,
        has_email=bool(customer.email),
        has_phone=bool(customer.phone),
        attributes=attributes,
        holdings=holdings,
        consents=consents,
        global_opt_out=global_opt_out,
        do_not_contact=DoNotContact.objects.filter(customer=customer).exists(),
        erased=customer.erased_at is not None,
        suppressions=suppressions,
        contact_history=contact_records(history),
        recent_events=events,
    )
