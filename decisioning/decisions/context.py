"""Loading one customer's context for the engine in one round trip.

Holdings, consents, do-not-contact, open suppressions, the contact history the policy
windows need and recent hardship events come back from a single query of JSON-aggregated
subqueries (PostgreSQL ``json_agg``, SQLite ``json_group_array``), together with the
catalog version, so a decision pays one read for everything it needs besides the customer.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from compliance.choices import ConsentChannel, ConsentStatus
from core.db import prepared_cursor
from customers.models import Customer
from decisioning.engine.snapshot import Snapshot
from decisioning.engine.types import (
    ContactRecord,
    CustomerContext,
    EventRecord,
    OwedRecord,
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


def history_scope(snapshot: Snapshot) -> dict[str, Any]:
    """The policy and the reach a context needs under ``snapshot``: the longest offer
    cooldown and the campaigns with a per-customer cap (keyword arguments of the loaders)."""
    return {
        "policy": snapshot.policy,
        "longest_offer_cooldown": max(
            (offer.cooldown_days for offer in snapshot.offers.values()), default=0
        ),
        "capped_campaign_ids": frozenset(
            cid for cid, campaign in snapshot.campaigns.items() if campaign.per_customer_cap
        ),
    }


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


class _Customer:
    """How the subqueries name the customer: a parameter (one customer) or the outer
    row's id (a batch)."""

    def __init__(self, customer_id: int | None = None) -> None:
        self.customer_id = customer_id

    def ref(self, sql: _Sql, text: str, *params: Any) -> _Sql:
        """Append ``text`` with each ``{cid}`` replaced by the customer reference."""
        if self.customer_id is None:
            return sql.add(text.replace("{cid}", "cu.id"), *params)
        rest = list(params)
        for index, piece in enumerate(text.split("{cid}")):
            if index:
                sql.add("%s", self.customer_id)
            count = piece.count("%s")
            sql.add(piece, *rest[:count])
            del rest[:count]
        return sql


def _context_columns(
    sql: _Sql,
    who: _Customer,
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int,
    capped_campaign_ids: frozenset[int],
    exclude: list[Any],
    provenance: int = 0,
) -> None:
    """Holdings, consents, do-not-contact, suppressions, contacts, hardship events and owed
    actions: one JSON-aggregated subquery each, appended to the select list.

    ``provenance`` > 0 (send time): each contact also carries its decision and its message's
    status, creation time and id, so the caller can leave some out per message; the
    fatigue window then reads that many more sales releases to make up for them."""
    since = now - timedelta(days=history_window_days(policy, longest_offer_cooldown))
    who.ref(
        sql,
        f", (SELECT {_agg('product_code')} FROM customers_holding"
        " WHERE customer_id = {cid} AND closed_at IS NULL)",
    )
    who.ref(
        sql,
        f", (SELECT {_agg('channel, status')} FROM compliance_consent WHERE customer_id = {{cid}})",
    )
    who.ref(sql, ", EXISTS(SELECT 1 FROM compliance_donotcontact WHERE customer_id = {cid})")
    who.ref(
        sql,
        f", (SELECT {_agg('scope, value, until, reason')} FROM compliance_suppressionentry"
        " WHERE customer_id = {cid} AND (until IS NULL OR until > %s))",
        _when(now),
    )
    # Contacts: everything inside the policy windows, the last N sales releases however
    # old (fatigue), and every release of campaigns with a per-customer cap.
    columns = "o.code, c.product_code, c.family, c.campaign_id, c.channel, c.kind, c.released_at, c.outcome, c.outcome_at"
    joins = " JOIN offers_offer o ON o.id = c.offer_id"
    if provenance:
        columns += ", c.decision_id, m.status, m.created_at, m.id"
        joins += " LEFT JOIN decisioning_message m ON m.id = c.message_id"
    who.ref(
        sql,
        f", (SELECT {_agg(columns)} FROM decisioning_contact c{joins}"
        " WHERE c.customer_id = {cid} AND c.cancelled = %s",
        False,
    )
    if exclude:
        sql.add(" AND c.decision_id NOT IN ").in_list(exclude)
    sql.add(" AND (c.released_at >= %s OR c.outcome_at >= %s", _when(since), _when(since))
    who.ref(sql, " OR c.id IN (SELECT l.id FROM decisioning_contact l WHERE l.customer_id = {cid}")
    sql.add(" AND l.cancelled = %s AND l.kind = 'sales'", False)
    if exclude:
        sql.add(" AND l.decision_id NOT IN ").in_list(exclude)
    sql.add(" ORDER BY l.released_at DESC LIMIT %s)", policy.fatigue_ignored_in_row + provenance)
    sql.add(" OR c.campaign_id IN ").in_list(sorted(capped_campaign_ids)).add("))")
    who.ref(
        sql,
        f", (SELECT {_agg('type, occurred_at')} FROM customers_event WHERE customer_id = {{cid}}"
        " AND occurred_at >= %s AND type IN ",
        _when(now - timedelta(days=policy.hardship_days)),
    )
    sql.in_list(sorted(policy.hardship_event_types)).add(")")
    # identity links a channel may deliver to: deterministic, or confident enough
    who.ref(
        sql,
        f", (SELECT {_agg('type')} FROM customers_identitylink WHERE customer_id = {{cid}}"
        " AND type IN ('device_id', 'email', 'phone')"
        " AND (method = 'deterministic' OR confidence >= %s))",
        settings.IDENTITY_MIN_CONFIDENCE,
    )
    who.ref(
        sql,
        f", (SELECT {_agg('w.id, w.campaign_id, o.code')} FROM decisioning_owedaction w"
        " JOIN offers_offer o ON o.id = w.offer_id"
        " WHERE w.customer_id = {cid} AND w.shown_at IS NULL AND w.expires_at > %s)",
        _when(now),
    )


def _rows(value: Any) -> list[list[Any]]:
    return json.loads(value) if isinstance(value, str) else value


def _context(
    customer: Customer,
    now: datetime,
    columns: tuple[Any, ...],
    contact_rows: list[list[Any]] | None = None,
) -> CustomerContext:
    holdings, consents, dnc, suppressions, contacts, events, links, owed = columns
    if contact_rows is None:
        contact_rows = _rows(contacts)
    consent_map: dict[str, bool] = {}
    global_opt_out = False
    for channel, status in _rows(consents):
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
            for offer, product, family, campaign_id, channel, kind, released_at, outcome, outcome_at, *_ in contact_rows
        ),
        key=lambda record: record.released_at,
    )
    today = local_today(customer, now)
    attributes = customer.attributes if isinstance(customer.attributes, dict) else {}
    segment = attributes.get("segment")
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
        segment=segment if isinstance(segment, str) else None,
        has_email=bool(customer.email),
        has_phone=bool(customer.phone),
        attributes=attributes,
        holdings=frozenset(code for (code,) in _rows(holdings)),
        consents=consent_map,
        global_opt_out=global_opt_out,
        do_not_contact=bool(dnc),
        erased=customer.erased_at is not None,
        suppressions=tuple(
            SuppressionSpec(scope=scope, value=value, until=_parse_time(until), reason=reason)
            for scope, value, until, reason in _rows(suppressions)
        ),
        contact_history=tuple(history),
        recent_events=tuple(
            EventRecord(type=event_type, occurred_at=_parse_time(occurred_at))
            for event_type, occurred_at in _rows(events)
        ),
        owed=tuple(
            OwedRecord(ref=str(ref), campaign_id=campaign_id, offer_code=code)
            for ref, campaign_id, code in _rows(owed)
        ),
        addresses=frozenset(
            [name for name in ("email", "phone") if getattr(customer, name)]
            + [kind for (kind,) in _rows(links)]
        ),
    )


def _decision_ids(values: list[Any]) -> list[Any]:
    field = Decision._meta.pk
    return [field.get_db_prep_value(value, connection) for value in values]


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
    sql = _Sql()
    sql.add("SELECT (SELECT version FROM compliance_catalogversion WHERE id = 1)")
    _context_columns(
        sql,
        _Customer(customer.pk),
        now=now,
        policy=policy,
        longest_offer_cooldown=longest_offer_cooldown,
        capped_campaign_ids=capped_campaign_ids,
        exclude=_decision_ids([exclude_decision_id] if exclude_decision_id is not None else []),
    )
    with prepared_cursor() as cursor:
        cursor.execute("".join(sql.text), sql.params)
        version, *columns = cursor.fetchone()
    return _context(customer, now, tuple(columns)), version


# Customer's concrete fields, their columns and the converters the ORM applies to each
_customer_columns: tuple[tuple[str, str, tuple[Any, ...], Any], ...] | None = None


def _customer_fields() -> tuple[tuple[str, str, tuple[Any, ...], Any], ...]:
    global _customer_columns
    if _customer_columns is None:
        fields = []
        for field in Customer._meta.concrete_fields:
            col = field.get_col(Customer._meta.db_table)
            converters = tuple(
                connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            )
            fields.append((field.attname, cast(str, field.column), converters, col))
        _customer_columns = tuple(fields)
    return _customer_columns


def load_customer_context_and_version(
    external_id: str,
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int = 0,
    capped_campaign_ids: frozenset[int] = frozenset(),
) -> tuple[Customer, CustomerContext, int] | None:
    """The customer a channel names by ``external_id``, the engine's view of them and the
    catalog version, in ONE query (``load_context_and_version`` with the customer row in
    it). ``None`` when no customer has that external id (the caller resolves the
    reference the long way: a former id of an erased customer, or nobody). The customer
    is a full ``Customer`` instance, each column converted as the ORM converts it."""
    fields = _customer_fields()
    sql = _Sql()
    sql.add("SELECT " + ", ".join(f"cu.{connection.ops.quote_name(c)}" for _, c, _, _ in fields))
    sql.add(", (SELECT version FROM compliance_catalogversion WHERE id = 1)")
    _context_columns(
        sql,
        _Customer(),
        now=now,
        policy=policy,
        longest_offer_cooldown=longest_offer_cooldown,
        capped_campaign_ids=capped_campaign_ids,
        exclude=[],
    )
    sql.add(f" FROM {Customer._meta.db_table} cu WHERE cu.external_id = %s", external_id)
    with prepared_cursor() as cursor:
        cursor.execute("".join(sql.text), sql.params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for (_, _, converters, col), value in zip(fields, row, strict=False):
        for converter in converters:
            value = converter(value, col, connection)
        values.append(value)
    customer = Customer.from_db(connection.alias, [name for name, _, _, _ in fields], values)
    version, *columns = row[len(fields) :]
    return customer, _context(customer, now, tuple(columns)), version


class Pending(Protocol):
    """A queued message as send time sees it (``decisioning.models.Message``)."""

    pk: Any
    customer: Customer
    customer_id: int
    decision_id: Any
    created_at: datetime


def _as_uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _sent_before(message: Pending) -> Callable[[list[Any]], bool]:
    """Which contact rows count for ``message`` at send time: not its own decision's, and
    not those of messages still queued behind it (each queued message then sees only those
    ahead of it, so two equal messages never cancel each other and never both go)."""
    own_decision = _as_uuid(message.decision_id)
    own_key = (message.created_at, str(_as_uuid(message.pk)))

    def counts(row: list[Any]) -> bool:
        decision_id, status, created_at, message_id = row[-4:]
        if _as_uuid(decision_id) == own_decision:
            return False
        if status != "queued":
            return True
        return (_parse_time(created_at), str(_as_uuid(message_id))) < own_key

    return counts


def load_send_contexts(
    messages: Sequence[Pending],
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int = 0,
    capped_campaign_ids: frozenset[int] = frozenset(),
) -> dict[Any, CustomerContext]:
    """Each queued message's customer context at send time, for a batch, in one query.

    A message's context leaves out its own decision and the messages still queued behind it
    (``_sent_before``); what was released, handed out or queued ahead of it counts."""
    if not messages:
        return {}
    customers = {message.customer_id: message.customer for message in messages}
    per_customer = max(Counter(m.customer_id for m in messages).values())
    sql = _Sql()
    sql.add("SELECT cu.id")
    _context_columns(
        sql,
        _Customer(),
        now=now,
        policy=policy,
        longest_offer_cooldown=longest_offer_cooldown,
        capped_campaign_ids=capped_campaign_ids,
        exclude=[],
        provenance=per_customer,
    )
    sql.add(" FROM customers_customer cu WHERE cu.id IN ").in_list(sorted(customers))
    with connection.cursor() as cursor:
        cursor.execute("".join(sql.text), sql.params)
        found = {cid: tuple(columns) for cid, *columns in cursor.fetchall()}
    contexts = {}
    for message in messages:
        columns = found[message.customer_id]
        counts = _sent_before(message)
        rows = [row for row in _rows(columns[4]) if counts(row)]
        contexts[message.pk] = _context(customers[message.customer_id], now, columns, rows)
    return contexts


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
