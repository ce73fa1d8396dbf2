"""Loading a range of customers as columns for the batch engine.

One query per table over an id range (customers, holdings, consents, do-not-contact,
suppressions, contact history, hardship events), turned into the arrays
``engine.CustomerBatch.from_columns`` takes. Rows arrive ordered by customer id, so
positions are found with ``searchsorted`` rather than dictionaries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db.models import Q

from compliance.choices import ConsentChannel, ConsentStatus
from compliance.models import Consent, DoNotContact, SuppressionEntry
from core.channels import ALL_CHANNELS
from customers.choices import LinkMethod
from customers.models import Customer, Event, Holding, IdentityLink
from decisioning.decisions.context import history_window_days
from decisioning.engine import AttributeColumn, CustomerBatch
from decisioning.engine.batch import FOREVER, NO_TIME, ContactLog, EventLog, SuppressionLog
from decisioning.engine.columns import StringColumn
from decisioning.engine.timeutil import to_us
from decisioning.engine.types import PolicySpec
from decisioning.models import Contact

PROFILE_FIELDS = (
    "id",
    "external_id",
    "birth_date",
    "customer_since",
    "region",
    "branch_code",
    "time_zone",
    "risk_band",
    "income_band",
    "attributes",
    "email",
    "phone",
    "erased_at",
)


def _ages(dates: list[date | None], today: date) -> np.ndarray:
    return np.array(
        [
            np.nan
            if d is None
            else today.year - d.year - ((today.month, today.day) < (d.month, d.day))
            for d in dates
        ],
        dtype=np.float64,
    )


def _months(dates: list[date | None], today: date) -> np.ndarray:
    return np.array(
        [
            np.nan
            if d is None
            else max(0, (today.year - d.year) * 12 + today.month - d.month - (today.day < d.day))
            for d in dates
        ],
        dtype=np.float64,
    )


def _blank_to_none(values: list[str]) -> list[str | None]:
    return [value or None for value in values]


def _positions(ids: np.ndarray, customer_ids: list[int]) -> np.ndarray:
    return np.searchsorted(ids, np.asarray(customer_ids, dtype=np.int64))


def customer_ids_between(first_id: int, last_id: int) -> list[int]:
    return list(
        Customer.objects.filter(pk__gte=first_id, pk__lte=last_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def load_batch(
    first_id: int,
    last_id: int,
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int = 0,
    bank_today: date | None = None,
) -> CustomerBatch:
    """Customers with ``first_id <= id <= last_id`` as an engine batch."""
    rows = list(
        Customer.objects.filter(pk__gte=first_id, pk__lte=last_id)
        .order_by("pk")
        .values_list(*PROFILE_FIELDS)
    )
    size = len(rows)
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=size)
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in PROFILE_FIELDS]
    field = dict(zip(PROFILE_FIELDS, columns, strict=True))
    today = bank_today or now.date()

    attributes_raw = [a if isinstance(a, dict) else {} for a in field["attributes"]]
    keys = sorted({key for attrs in attributes_raw for key in attrs})
    attributes = {
        key: AttributeColumn.from_values([attrs.get(key) for attrs in attributes_raw])
        for key in keys
    }
    segment = [
        value if isinstance(value := attrs.get("segment"), str) else None
        for attrs in attributes_raw
    ]

    holding_rows = list(
        Holding.objects.filter(
            customer_id__gte=first_id, customer_id__lte=last_id, closed_at__isnull=True
        ).values_list("customer_id", "product_code")
    )
    product_codes = sorted({code for _, code in holding_rows})
    holdings = np.zeros((size, len(product_codes)), dtype=bool)
    if holding_rows:
        code_index = {code: i for i, code in enumerate(product_codes)}
        rows_at = _positions(ids, [cid for cid, _ in holding_rows])
        cols_at = np.fromiter((code_index[code] for _, code in holding_rows), dtype=np.int64)
        holdings[rows_at, cols_at] = True

    consents = {channel: np.zeros(size, dtype=np.int8) for channel in ALL_CHANNELS}
    global_opt_out = np.zeros(size, dtype=bool)
    for customer_id, channel, status in Consent.objects.filter(
        customer_id__gte=first_id, customer_id__lte=last_id
    ).values_list("customer_id", "channel", "status"):
        row = int(np.searchsorted(ids, customer_id))
        if channel == ConsentChannel.ALL:
            global_opt_out[row] = status == ConsentStatus.REVOKED
        elif channel in consents:
            consents[channel][row] = 1 if status == ConsentStatus.GRANTED else -1

    do_not_contact = np.zeros(size, dtype=bool)
    dnc_ids = list(
        DoNotContact.objects.filter(
            customer_id__gte=first_id, customer_id__lte=last_id
        ).values_list("customer_id", flat=True)
    )
    if dnc_ids:
        do_not_contact[_positions(ids, dnc_ids)] = True

    suppression_rows = list(
        SuppressionEntry.objects.filter(customer_id__gte=first_id, customer_id__lte=last_id)
        .exclude(until__lte=now)
        .values_list("customer_id", "scope", "value", "until")
    )
    suppressions = SuppressionLog(
        customer_index=_positions(ids, [r[0] for r in suppression_rows]).astype(np.int64),
        scope=StringColumn.from_values(r[1] for r in suppression_rows),
        value=StringColumn.from_values(r[2] for r in suppression_rows),
        until_us=np.fromiter(
            (FOREVER if r[3] is None else to_us(r[3]) for r in suppression_rows),
            dtype=np.int64,
            count=len(suppression_rows),
        ),
    )

    since = now - timedelta(days=history_window_days(policy, longest_offer_cooldown))
    contact_rows = list(
        Contact.objects.filter(
            customer_id__gte=first_id,
            customer_id__lte=last_id,
            cancelled=False,
            released_at__gte=since,
        ).values_list(
            "customer_id",
            "offer__code",
            "product_code",
            "channel",
            "kind",
            "campaign_id",
            "released_at",
            "outcome",
            "outcome_at",
        )
    )
    contacts = ContactLog(
        customer_index=_positions(ids, [r[0] for r in contact_rows]).astype(np.int64),
        offer=StringColumn.from_values(r[1] for r in contact_rows),
        product=StringColumn.from_values(r[2] for r in contact_rows),
        channel=StringColumn.from_values(r[3] for r in contact_rows),
        is_sales=np.fromiter(
            (r[4] == "sales" for r in contact_rows), dtype=bool, count=len(contact_rows)
        ),
        campaign_id=np.fromiter(
            (-1 if r[5] is None else r[5] for r in contact_rows),
            dtype=np.int64,
            count=len(contact_rows),
        ),
        released_us=np.fromiter(
            (to_us(r[6]) for r in contact_rows), dtype=np.int64, count=len(contact_rows)
        ),
        outcome=StringColumn.from_values((r[7] or None) for r in contact_rows),
        outcome_us=np.fromiter(
            (NO_TIME if r[8] is None else to_us(r[8]) for r in contact_rows),
            dtype=np.int64,
            count=len(contact_rows),
        ),
    )

    event_rows = list(
        Event.objects.filter(
            customer_id__gte=first_id,
            customer_id__lte=last_id,
            type__in=sorted(policy.hardship_event_types),
            occurred_at__gte=now - timedelta(days=policy.hardship_days),
        ).values_list("customer_id", "type", "occurred_at")
    )
    events = EventLog(
        customer_index=_positions(ids, [r[0] for r in event_rows]).astype(np.int64),
        type=StringColumn.from_values(r[1] for r in event_rows),
        occurred_us=np.fromiter(
            (to_us(r[2]) for r in event_rows), dtype=np.int64, count=len(event_rows)
        ),
    )

    # where each customer can be reached: profile e-mail and phone, and identity links that
    # are deterministic or confident enough (the pre-send gate's rule for an address)
    addresses = {
        "email": np.fromiter((bool(v) for v in field["email"]), dtype=bool, count=size),
        "phone": np.fromiter((bool(v) for v in field["phone"]), dtype=bool, count=size),
        "device_id": np.zeros(size, dtype=bool),
    }
    link_rows = list(
        IdentityLink.objects.filter(
            Q(method=LinkMethod.DETERMINISTIC)
            | Q(confidence__gte=settings.IDENTITY_MIN_CONFIDENCE),
            customer_id__gte=first_id,
            customer_id__lte=last_id,
            type__in=sorted(addresses),
        )
        .values_list("customer_id", "type")
        .distinct()
    )
    for kind in addresses:
        linked = [cid for cid, link_type in link_rows if link_type == kind]
        if linked:
            addresses[kind][_positions(ids, linked)] = True

    return CustomerBatch.from_columns(
        ids,
        addresses=addresses,
        columns={
            "age": _ages(list(field["birth_date"]), today),
            "tenure_months": _months(list(field["customer_since"]), today),
            "region": _blank_to_none(list(field["region"])),
            "branch_code": _blank_to_none(list(field["branch_code"])),
            "time_zone": _blank_to_none(list(field["time_zone"])),
            "risk_band": _blank_to_none(list(field["risk_band"])),
            "income_band": _blank_to_none(list(field["income_band"])),
            "segment": segment,
            "has_email": [bool(value) for value in field["email"]],
            "has_phone": [bool(value) for value in field["phone"]],
        },
        attributes=attributes,
        product_codes=product_codes,
        holdings=holdings,
        consents=consents,
        global_opt_out=global_opt_out,
        do_not_contact=do_not_contact,
        erased=np.fromiter(
            (value is not None for value in field["erased_at"]), dtype=bool, count=size
        ),
        contacts=contacts,
        events=events,
        suppressions=suppressions,
        external_ids=list(field["external_id"]),
    )
