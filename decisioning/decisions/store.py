"""Storing what the engine decided: the decision, its contacts, queued messages and the
audit records of inbound releases, in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.fields import AutoFieldMixin

from core.channels import OUTBOUND
from core.metrics import decision_stored
from customers.identity import Resolution
from customers.models import Customer, Event
from decisioning import engine
from decisioning.decisions.explanation import eligibility_refs
from decisioning.decisions.released import (
    ReleasedOfferData,
    released_audit_data,
    released_from_engine,
    stored_offer,
    stored_suppressed,
)
from decisioning.decisions.snapshots import LoadedSnapshot
from decisioning.models import Contact, Decision, Message, OwedAction
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.services import (
    audit_many,
    audit_many_sent,
    audit_many_statement,
    build_record,
    jsonb_text,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredDecision:
    decision: Decision
    messages: tuple[Message, ...]
    created: bool


def decision_store(
    *,
    loaded: LoadedSnapshot,
    result: engine.Decision,
    request: engine.DecisionRequest,
    customer: Customer,
    mode: str,
    channel: str = "",
    event: Event | None = None,
    campaign_id: int | None = None,
    run_id: int | None = None,
    requested_by: str,
    identity: Resolution | None = None,
    expires_at: datetime | None = None,
) -> StoredDecision:
    """Persist one decision with its contacts, queued messages and audit rows.

    Inbound offers are released now, so each gets its audit record here; outbound
    offers become queued messages, audited when a channel leases them.
    """
    now = result.decided_at
    explanation = result.to_compact(eligibility_refs(loaded))
    explanation["request"] = {
        "max_offers": request.max_offers,
        "campaign_ids": sorted(request.campaign_ids) if request.campaign_ids else None,
    }
    if identity is not None:
        explanation["identity"] = identity.as_dict()
    releases = [released_from_engine(offer) for offer in result.offers]
    decision = Decision(
        customer=customer,
        mode=mode,
        channel=channel,
        event=event,
        campaign_id=campaign_id,
        run_id=run_id,
        created_at=now,
        expires_at=expires_at,
        control_group=result.control_group,
        shadow=campaign_id is not None and loaded.engine.campaigns[campaign_id].shadow,
        offers_released=len(result.offers),
        top_offer_code=result.top_offer_code or "",
        outcome_reason=result.outcome,
        snapshot_version=result.snapshot_version,
        policy_version=result.policy_version,
        offers=[stored_offer(released) for released in releases],
        suppressed=[stored_suppressed(item) for item in result.suppressed],
        explanation=explanation,
        requested_by=requested_by,
    )
    connection = connections[router.db_for_write(Decision)]
    write = _write_batched if connection.vendor == "postgresql" else _write_orm
    try:
        messages = write(connection, decision, result, releases, loaded, customer, requested_by)
    except IntegrityError:
        # The same signal decided concurrently (retry, duplicate delivery): keep theirs.
        existing = _existing_decision(
            event=event, campaign_id=campaign_id, run_id=run_id, customer=customer
        )
        if existing is None:
            raise
        return StoredDecision(existing, tuple(existing.messages.all()), created=False)
    transaction.on_commit(
        lambda: decision_stored(
            mode=mode, outcome=result.outcome, released=result.offers, suppressed=result.suppressed
        ),
        using=connection.alias,
    )
    return StoredDecision(decision, tuple(messages), created=True)


@dataclass(slots=True)
class _Rows:
    """The rows one decision writes besides its own: queued messages, contacts, audit
    records (built and hashed; ``owed`` ones are added inside the transaction)."""

    messages: list[Message]
    contacts: list[Contact]
    records: list[AuditRecord]


def _rows(
    decision: Decision,
    result: engine.Decision,
    releases: list[ReleasedOfferData],
    loaded: LoadedSnapshot,
    customer: Customer,
    requested_by: str,
) -> _Rows:
    now = result.decided_at
    event = decision.event
    rows = _Rows([], [], [])
    for offer, released in zip(result.offers, releases, strict=True):
        offer_id = loaded.offer_ids[offer.offer_code]
        message = None
        if offer.channel in OUTBOUND:
            message = Message(
                decision=decision,
                customer=customer,
                campaign_id=offer.campaign_id,
                offer_id=offer_id,
                content_id=loaded.content_ids[
                    (offer.offer_code, offer.channel, offer.content.version)
                ],
                channel=offer.channel,
                deliver_after=offer.deliver_after or now,
                created_at=now,
            )
            rows.messages.append(message)
        else:
            rows.records.append(
                build_record(
                    kind=AuditKind.OFFER_RELEASED,
                    action="inbound_offer_released",
                    actor=requested_by,
                    object_type="decision",
                    object_id=decision.pk,
                    object_repr=offer.offer_code,
                    customer_ref=customer.pseudonym,
                    channel=offer.channel,
                    data=released_audit_data(
                        released,
                        decision_id=decision.pk,
                        event=event,
                        policy_version=result.policy_version,
                        snapshot_version=result.snapshot_version,
                    ),
                    at=now,
                )
            )
        rows.contacts.append(
            Contact(
                customer=customer,
                decision=decision,
                message=message,
                campaign_id=offer.campaign_id,
                offer_id=offer_id,
                product_code=offer.product_code,
                family=offer.family,
                kind=offer.kind,
                channel=offer.channel,
                released_at=now,
            )
        )
    # One record per service action and channel, listing every marketing rule it was
    # exempt from (DESIGN.md rule 7): each exemption is in the ledger, and a decision
    # hashes one record per action rather than one per rule (about 145 µs apiece).
    exempted: dict[tuple[str, str], list[engine.Exemption]] = {}
    for exemption in result.exemptions:
        exempted.setdefault((exemption.offer_code, exemption.channel), []).append(exemption)
    for (offer_code, channel), exemptions in exempted.items():
        rows.records.append(
            build_record(
                kind=AuditKind.EXEMPTION,
                action="service_exemption",
                actor=requested_by,
                object_type="decision",
                object_id=decision.pk,
                object_repr=offer_code,
                customer_ref=customer.pseudonym,
                channel=channel,
                data={
                    "offer_code": offer_code,
                    "campaign_id": exemptions[0].campaign_id,
                    "channel": channel,
                    "exemptions": [
                        {
                            key: value
                            for key, value in item.to_dict().items()
                            if key not in ("offer_code", "campaign_id", "channel")
                        }
                        for item in exemptions
                    ],
                },
                at=now,
            )
        )
    return rows


def _write_orm(
    connection: BaseDatabaseWrapper,
    decision: Decision,
    result: engine.Decision,
    releases: list[ReleasedOfferData],
    loaded: LoadedSnapshot,
    customer: Customer,
    requested_by: str,
) -> list[Message]:
    """Every backend but PostgreSQL (SQLite): the ORM, one statement per table."""
    with transaction.atomic(using=connection.alias):
        decision.save(force_insert=True, using=connection.alias)
        rows = _rows(decision, result, releases, loaded, customer, requested_by)
        Message.objects.using(connection.alias).bulk_create(rows.messages)
        Contact.objects.using(connection.alias).bulk_create(rows.contacts)
        if result.owed_shown:
            rows.records += _owed_shown(result, decision, customer, requested_by)
        audit_many(rows.records)
    return rows.messages


def _write_batched(
    connection: BaseDatabaseWrapper,
    decision: Decision,
    result: engine.Decision,
    releases: list[ReleasedOfferData],
    loaded: LoadedSnapshot,
    customer: Customer,
    requested_by: str,
) -> list[Message]:
    """PostgreSQL: the decision, its messages, contacts and audit records as ONE
    multi-statement ``INSERT ...; INSERT ...`` (psycopg's client-side binding sends it by
    the simple query protocol, which runs the statements as one transaction).

    In autocommit (the API's and a worker's hot path) that is the whole transaction and
    the only round trip: no BEGIN, no COMMIT. Inside a caller's transaction it runs in a
    savepoint, as the ORM path does, so a duplicate leaves the caller's transaction
    usable. Owed service actions shown (rare) are read and marked first, in the same
    transaction."""
    rows = _rows(decision, result, releases, loaded, customer, requested_by)
    if not result.owed_shown and not connection.in_atomic_block:
        _execute_batch(connection, decision, rows)
    else:
        with transaction.atomic(using=connection.alias):
            if result.owed_shown:
                rows.records += _owed_shown(result, decision, customer, requested_by)
            _execute_batch(connection, decision, rows)
    for instance in (decision, *rows.messages, *rows.contacts):
        instance._state.adding = False
        instance._state.db = connection.alias
    return rows.messages


def _execute_batch(connection: BaseDatabaseWrapper, decision: Decision, rows: _Rows) -> None:
    statements: list[str] = []
    params: list[Any] = []
    for objs in ([decision], rows.messages, rows.contacts):
        if objs:
            sql, values = _insert_statement(connection, objs)
            statements.append(sql)
            params += values
    if rows.records:
        sql, values = audit_many_statement(rows.records, connection)
        statements.append(sql)
        params += values
    with connection.cursor() as cursor:
        cursor.execute(";\n".join(statements), params)
    if rows.records:
        audit_many_sent(connection)


# model -> (field, column) of every field an INSERT writes, and that column list as SQL
_insert_fields: dict[type[Model], tuple[tuple[tuple[Field[Any, Any], str], ...], str]] = {}


def _fields_of(
    model: type[Model], connection: BaseDatabaseWrapper
) -> tuple[tuple[tuple[Field[Any, Any], str], ...], str]:
    found = _insert_fields.get(model)
    if found is None:
        fields = tuple(
            (field, cast(str, field.column))  # a concrete field always has its column
            for field in model._meta.concrete_fields
            # a database-assigned id (bigserial) is left to the database
            if not (field.primary_key and isinstance(field, AutoFieldMixin))
        )
        quote = connection.ops.quote_name
        found = _insert_fields[model] = (fields, ", ".join(quote(c) for _, c in fields))
    return found


def _insert_statement(connection: BaseDatabaseWrapper, objs: list[Any]) -> tuple[str, list[Any]]:
    """``Model.objects.bulk_create(objs)`` as one ``INSERT ... SELECT`` from ONE JSON
    parameter (``json_populate_recordset`` over the table's own row type, so each value
    is read by its column's input function): no ORM compilation and no per-value
    quoting. Every concrete field is written as ``save()`` would (``pre_save``, so
    ``auto_now`` holds); a database-assigned id is left to the database."""
    model = type(objs[0])
    fields, columns = _fields_of(model, connection)
    rows = [{column: field.pre_save(obj, add=True) for field, column in fields} for obj in objs]
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {columns}"
        f" FROM json_populate_recordset(NULL::{table}, %s::json)"
    )
    return sql, [jsonb_text(rows)]


def _owed_shown(
    result: engine.Decision, decision: Decision, customer: Customer, actor: str
) -> list[AuditRecord]:
    """Mark the owed service actions this inbound decision released as shown."""
    now = result.decided_at
    owed = list(
        OwedAction.objects.filter(pk__in=result.owed_shown, shown_at__isnull=True).values_list(
            "pk", "message_id", "offer__code"
        )
    )
    OwedAction.objects.filter(pk__in=[pk for pk, _, _ in owed]).update(
        shown_at=now, shown_decision=decision
    )
    return [
        build_record(
            kind=AuditKind.MESSAGE,
            action="owed_action_shown",
            actor=actor,
            object_type="decision",
            object_id=decision.pk,
            object_repr=offer_code,
            customer_ref=customer.pseudonym,
            channel=result.channel or "",
            data={
                "owed_action_id": pk,
                "message_id": str(message_id),
                "decision_id": str(decision.pk),
                "offer_code": offer_code,
            },
            at=now,
        )
        for pk, message_id, offer_code in owed
    ]


def _existing_decision(*, event, campaign_id, run_id, customer) -> Decision | None:
    if event is not None:
        return Decision.objects.filter(event=event, campaign_id=campaign_id).first()
    if run_id is not None:
        return Decision.objects.filter(run_id=run_id, customer=customer).first()
    return None
