"""Loading one customer's context for the engine in one round trip.

Holdings, consents, do-not-contact, open suppressions, the contact history the policy
windows need and recent hardship events come back from a single query of JSON-aggregated
subqueries (PostgreSQL ``json_agg``, SQLite ``json_group_array``), together with the
catalog version, so a decision pays one read for everything it needs besides the customer.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from compliance.choices import ConsentChannel, ConsentStatus
from customers.models import Customer
from decisioning.engine.types import (
    ContactRecord,
    CustomerContext,
    EventRecord,
    PolicySpec,
    SuppressionSpec,
)
from decisioning.models import Decision


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


def _agg(columns: str) -> str:
    if connection.vendor == "postgresql":
        return f"coalesce(json_agg(json_build_array({columns})), '[]')"
    return f"coalesce(json_group_array(json_array({columns})), '[]')"


class _Sql:
    """SQL text with its parameters, appended in order (placeholders are positional)."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.params: list[Any] = []

    def add(self, text: str, *params: Any) -> _Sql:
        self.text.append(text)
        self.params.extend(params)
        return self

    def in_list(self, values: list[Any]) -> _Sql:
        if not values:
            return self.add("(NULL)")
        return self.add("(" + ", ".join(["%s"] * len(values)) + ")", *values)


def _when(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def load_context_and_version(
    customer: Customer,
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int = 0,
    capped_campaign_ids: frozenset[int] = frozenset(),
    exclude_decision_id: Any = None,
) -> tuple[CustomerContext, int]:
    """The engine's view of one customer, and the catalog version, in one query."""
    cid = customer.pk
    since = now - timedelta(days=history_window_days(policy, longest_offer_cooldown))
    exclude = (
        None
        if exclude_decision_id is None
        else Decision._meta.pk.get_db_prep_value(exclude_decision_id, connection)
    )
    sql = _Sql()
    sql.add("SELECT (SELECT version FROM compliance_catalogversion WHERE id = 1)")
    sql.add(
        f", (SELECT {_agg('product_code')} FROM customers_holding"
        " WHERE customer_id = %s AND closed_at IS NULL)",
        cid,
    )
    sql.add(
        f", (SELECT {_agg('channel, status')} FROM compliance_consent WHERE customer_id = %s)", cid
    )
    sql.add(", EXISTS(SELECT 1 FROM compliance_donotcontact WHERE customer_id = %s)", cid)
    sql.add(
        f", (SELECT {_agg('scope, value, until, reason')} FROM compliance_suppressionentry"
        " WHERE customer_id = %s AND (until IS NULL OR until > %s))",
        cid,
        _when(now),
    )
    # Contacts: everything inside the policy windows, the last N sales releases however
    # old (fatigue), and every release of campaigns with a per-customer cap.
    sql.add(
        f", (SELECT {_agg('o.code, c.product_code, c.family, c.campaign_id, c.channel, c.kind, c.released_at, c.outcome, c.outcome_at')}"
        " FROM decisioning_contact c JOIN offers_offer o ON o.id = c.offer_id"
        " WHERE c.customer_id = %s AND c.cancelled = %s",
        cid,
        False,
    )
    if exclude is not None:
        sql.add(" AND c.decision_id <> %s", exclude)
    sql.add(" AND (c.released_at >= %s OR c.outcome_at >= %s", _when(since), _when(since))
    sql.add(" OR c.id IN (SELECT l.id FROM decisioning_contact l WHERE l.customer_id = %s", cid)
    sql.add(" AND l.cancelled = %s AND l.kind = 'sales'", False)
    if exclude is not None:
        sql.add(" AND l.decision_id <> %s", exclude)
    sql.add(" ORDER BY l.released_at DESC LIMIT %s)", policy.fatigue_ignored_in_row)
    sql.add(" OR c.campaign_id IN ").in_list(sorted(capped_campaign_ids)).add("))")
    sql.add(
        f", (SELECT {_agg('type, occurred_at')} FROM customers_event WHERE customer_id = %s"
        " AND occurred_at >= %s AND type IN ",
        cid,
        _when(now - timedelta(days=policy.hardship_days)),
    )
    sql.in_list(sorted(policy.hardship_event_types)).add(")")

    with connection.cursor() as cursor:
        cursor.execute("".join(sql.text), sql.params)
        version, holdings, consents, dnc, suppressions, contacts, events = cursor.fetchone()

    def rows(value: Any) -> list[list[Any]]:
        return json.loads(value) if isinstance(value, str) else value

    consent_map: dict[str, bool] = {}
    global_opt_out = False
    for channel, status in rows(consents):
        if channel == ConsentChannel.ALL:
            global_opt_out = status == ConsentStatus.REVOKED
        else:
            consent_map[channel] = status == ConsentStatus.GRANTED
    history = sorted(
        (
            ContactRecord(
                offer_code=offer,
                product_code=product,
                family=family,
                campaign_id=campaign_id,
                channel=channel,
                kind=kind,
                released_at=_parse_time(released_at),
                outcome=outcome or None,
                outcome_at=_parse_time(outcome_at),
            )
            for offer, product, family, campaign_id, channel, kind, released_at, outcome, outcome_at in rows(
                contacts
            )
        ),
        key=lambda record: record.released_at,
    )
    today = local_today(customer, now)
    attributes = customer.attributes if isinstance(customer.attributes, dict) else {}
    segment = attributes.get("segment")
    context = CustomerContext(
        customer_id=cid,
        external_id=customer.external_id,
        age=age_on(customer.birth_date, today),
        tenure_months=months_between(customer.customer_since, today),
        region=customer.region or None,
        branch_code=customer.branch_code or None,
        time_zone=customer.time_zone or None,
        risk_band=customer.risk_band or None,
        income_band=customer.income_band or None,
        segment=segment if isinstance(segment, str) else None,
        has_email=bool(customer.email),
        has_phone=bool(customer.phone),
        attributes=attributes,
        holdings=frozenset(code for (code,) in rows(holdings)),
        consents=consent_map,
        global_opt_out=global_opt_out,
        do_not_contact=bool(dnc),
        erased=customer.erased_at is not None,
        suppressions=tuple(
            SuppressionSpec(scope=scope, value=value, until=_parse_time(until), reason=reason)
            for scope, value, until, reason in rows(suppressions)
        ),
        contact_history=tuple(history),
        recent_events=tuple(
            EventRecord(type=event_type, occurred_at=_parse_time(occurred_at))
            for event_type, occurred_at in rows(events)
        ),
    )
    return context, version


def load_context(
    customer: Customer,
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int = 0,
    capped_campaign_ids: frozenset[int] = frozenset(),
    exclude_decision_id: Any = None,
) -> CustomerContext:
    return load_context_and_version(
        customer,
        now=now,
        policy=policy,
        longest_offer_cooldown=longest_offer_cooldown,
        capped_campaign_ids=capped_campaign_ids,
        exclude_decision_id=exclude_decision_id,
    )[0]
