"""Loading a range of customers as columns for the batch engine.

One raw query per table over an id range (customers, holdings, consents, do-not-contact,
suppressions, contact history, hardship events, identity links), turned into the arrays
``engine.CustomerBatch.from_columns`` takes. Rows arrive ordered by customer id, so
positions are found with ``searchsorted`` rather than dictionaries.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

from compliance.choices import ConsentChannel, ConsentStatus
from compliance.models import Consent, DoNotContact, SuppressionEntry
from core.channels import ALL_CHANNELS
from customers.choices import LinkMethod
from customers.models import Customer, Event, Holding, IdentityLink
from decisioning.decisions.context import history_window_days
from decisioning.engine import AttributeColumn, CustomerBatch
from decisioning.engine.batch import FOREVER, NO_TIME, ContactLog, EventLog, SuppressionLog
from decisioning.engine.columns import BoolColumn, NumberColumn, StringColumn
from decisioning.engine.timeutil import to_us
from decisioning.engine.types import PolicySpec
from decisioning.models import Contact
from offers.models import Offer

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
    "has_email",
    "has_phone",
    "erased",
)
# The profile query's select list, in PROFILE_FIELDS order.
PROFILE_COLUMNS = (
    *PROFILE_FIELDS[:9],
    "CAST(attributes AS text)",
    "email <> ''",
    "phone <> ''",
    "erased_at IS NOT NULL",
)


def _ymd(dates: list[date | None]) -> np.ndarray:
    """Dates as year * 10000 + month * 100 + day (-1 when missing)."""
    return np.fromiter(
        (-1 if d is None else d.year * 10_000 + d.month * 100 + d.day for d in dates),
        dtype=np.int64,
        count=len(dates),
    )


def _ages(dates: list[date | None], today: date) -> np.ndarray:
    """Whole years from each date to ``today`` (NaN when missing)."""
    ymd = _ymd(dates)
    born = ymd // 10_000
    before_birthday = (today.month * 100 + today.day) < ymd % 10_000
    return np.where(ymd < 0, np.nan, today.year - born - before_birthday).astype(np.float64)


def _months(dates: list[date | None], today: date) -> np.ndarray:
    """Whole months from each date to ``today``, at least 0 (NaN when missing)."""
    ymd = _ymd(dates)
    months = (today.year - ymd // 10_000) * 12 + today.month - ymd // 100 % 100
    months -= today.day < ymd % 100
    return np.where(ymd < 0, np.nan, np.maximum(months, 0)).astype(np.float64)


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


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """A raw query's rows; datetimes among the parameters as the ORM would send them."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(p) if isinstance(p, datetime) else p for p in params])
        return cursor.fetchall()


def _us_of(column: str) -> str:
    """A timestamp column selected as exact microseconds since the epoch (PostgreSQL), or
    as itself, for ``_us`` to convert."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    return column


def _us(value: Any, missing: int) -> int:
    """What ``_us_of`` selected, as microseconds since the epoch (``missing`` for NULL)."""
    if value is None:
        return missing
    if isinstance(value, int):
        return value
    return to_us(_aware(value))


def _aware(value: datetime) -> datetime:
    """A stored datetime as the ORM gives it (SQLite keeps naive text in the connection's
    time zone)."""
    if timezone.is_aware(value) or not settings.USE_TZ:
        return value
    return timezone.make_aware(value, connection.timezone)


def _table(model: Any) -> str:
    return model._meta.db_table


def _strings(values: list[Any]) -> StringColumn:
    """``StringColumn.from_values`` (same categories, same codes) for values that are
    strings or None, without a Python call per value."""
    lookup: dict[Any, int] = {None: -1}
    for text in dict.fromkeys(values):
        if text is not None:
            lookup[text] = len(lookup) - 1
    codes = np.fromiter(map(lookup.__getitem__, values), dtype=np.int32, count=len(values))
    return StringColumn(codes, tuple(text for text in lookup if text is not None))


def _numbers(values: list[Any]) -> NumberColumn:
    """``NumberColumn.from_values`` of decoded JSON values: ints and floats (not bools)
    that fit a finite float; anything else is missing."""
    kinds = (int, float)
    try:
        data = np.array(
            [value if type(value) in kinds else np.nan for value in values], dtype=np.float64
        )
    except OverflowError:  # an int too large for a float: missing, as coerce_number says
        return NumberColumn.from_values(values)
    return NumberColumn.from_array(data)


def _attribute_column(values: list[Any]) -> AttributeColumn:
    """An attribute's number, string and bool views over decoded JSON values, as
    ``AttributeColumn.from_values`` builds them."""
    size = len(values)
    return AttributeColumn(
        _numbers(values),
        _strings([value if type(value) is str else None for value in values]),
        BoolColumn(
            np.fromiter((value is True for value in values), dtype=bool, count=size),
            np.fromiter((type(value) is bool for value in values), dtype=bool, count=size),
        ),
    )


def _profile(first_id: int, last_id: int) -> dict[str, list[Any]]:
    rows = _rows(
        f"SELECT {', '.join(PROFILE_COLUMNS)} FROM {_table(Customer)} "
        "WHERE id BETWEEN %s AND %s ORDER BY id",
        [first_id, last_id],
    )
    data = (
        [list(column) for column in zip(*rows, strict=True)]
        if rows
        else [[]] * len(PROFILE_COLUMNS)
    )
    return dict(zip(PROFILE_FIELDS, data, strict=True))


def load_batch(
    first_id: int,
    last_id: int,
    *,
    now: datetime,
    policy: PolicySpec,
    longest_offer_cooldown: int = 0,
    bank_today: date | None = None,
) -> CustomerBatch:
    """Customers with ``first_id <= id <= last_id`` as an engine batch.

    One raw query per table over the id range (no model instances, no per-row ORM
    conversion), rows straight into arrays; timestamps come as epoch microseconds from
    PostgreSQL, the attributes as JSON text decoded in one call, and the typed columns
    are built without a Python call per value where the values' types are known.
    """
    span = [first_id, last_id]
    field = _profile(first_id, last_id)
    size = len(field["id"])
    # the attributes arrive as JSON text, decoded in one call
    decoded = json.loads(f"[{','.join(text or 'null' for text in field['attributes'])}]")
    attributes_raw = [value if isinstance(value, dict) else {} for value in decoded]
    keys = sorted({key for attrs in attributes_raw for key in attrs})
    attributes = {
        key: _attribute_column([attrs.get(key) for attrs in attributes_raw]) for key in keys
    }
    segment = [
        value if isinstance(value := attrs.get("segment"), str) else None
        for attrs in attributes_raw
    ]
    ids = np.asarray(field["id"], dtype=np.int64)
    today = bank_today or now.date()

    holding_rows = _rows(
        f"SELECT customer_id, product_code FROM {_table(Holding)} "
        "WHERE customer_id BETWEEN %s AND %s AND closed_at IS NULL",
        span,
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
    consent_rows = _rows(
        f"SELECT customer_id, channel, status FROM {_table(Consent)} "
        "WHERE customer_id BETWEEN %s AND %s",
        span,
    )
    if consent_rows:
        owners, channels, statuses = zip(*consent_rows, strict=True)
        at = _positions(ids, list(owners))
        channel_of = np.array(channels, dtype=object)
        status_of = np.array(statuses, dtype=object)
        everything = channel_of == ConsentChannel.ALL  # one row per customer and channel
        global_opt_out[at[everything]] = status_of[everything] == ConsentStatus.REVOKED
        for channel, values in consents.items():
            mine = channel_of == channel
            values[at[mine]] = np.where(status_of[mine] == ConsentStatus.GRANTED, 1, -1).astype(
                np.int8
            )

    do_not_contact = np.zeros(size, dtype=bool)
    dnc_ids = [
        cid
        for (cid,) in _rows(
            f"SELECT customer_id FROM {_table(DoNotContact)} WHERE customer_id BETWEEN %s AND %s",
            span,
        )
    ]
    if dnc_ids:
        do_not_contact[_positions(ids, dnc_ids)] = True

    suppression_rows = _rows(
        f"SELECT customer_id, scope, value, {_us_of('until')} FROM {_table(SuppressionEntry)} "
        "WHERE customer_id BETWEEN %s AND %s AND (until IS NULL OR until > %s)",
        [*span, now],
    )
    suppressions = SuppressionLog(
        customer_index=_positions(ids, [r[0] for r in suppression_rows]).astype(np.int64),
        scope=StringColumn.from_values(r[1] for r in suppression_rows),
        value=StringColumn.from_values(r[2] for r in suppression_rows),
        until_us=np.fromiter(
            (_us(r[3], FOREVER) for r in suppression_rows),
            dtype=np.int64,
            count=len(suppression_rows),
        ),
    )

    since = now - timedelta(days=history_window_days(policy, longest_offer_cooldown))
    contact_rows = _rows(
        f"SELECT c.customer_id, o.code, c.product_code, c.channel, c.kind, c.campaign_id, "
        f"{_us_of('c.released_at')}, c.outcome, {_us_of('c.outcome_at')} "
        f"FROM {_table(Contact)} c "
        f"JOIN {_table(Offer)} o ON o.id = c.offer_id "
        "WHERE c.customer_id BETWEEN %s AND %s AND NOT c.cancelled AND c.released_at >= %s",
        [*span, since],
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
            (_us(r[6], NO_TIME) for r in contact_rows), dtype=np.int64, count=len(contact_rows)
        ),
        outcome=StringColumn.from_values((r[7] or None) for r in contact_rows),
        outcome_us=np.fromiter(
            (_us(r[8], NO_TIME) for r in contact_rows),
            dtype=np.int64,
            count=len(contact_rows),
        ),
    )

    hardship_types = sorted(policy.hardship_event_types)
    event_rows = (
        _rows(
            f"SELECT customer_id, type, {_us_of('occurred_at')} FROM {_table(Event)} "
            "WHERE customer_id BETWEEN %s AND %s AND occurred_at >= %s "
            f"AND type IN ({', '.join(['%s'] * len(hardship_types))})",
            [*span, now - timedelta(days=policy.hardship_days), *hardship_types],
        )
        if hardship_types
        else []
    )
    events = EventLog(
        customer_index=_positions(ids, [r[0] for r in event_rows]).astype(np.int64),
        type=StringColumn.from_values(r[1] for r in event_rows),
        occurred_us=np.fromiter(
            (_us(r[2], NO_TIME) for r in event_rows), dtype=np.int64, count=len(event_rows)
        ),
    )

    has_email = np.asarray(field["has_email"], dtype=bool).reshape(size)
    has_phone = np.asarray(field["has_phone"], dtype=bool).reshape(size)
    # where each customer can be reached: profile e-mail and phone, and identity links that
    # are deterministic or confident enough (the pre-send gate's rule for an address)
    addresses = {
        "email": has_email.copy(),
        "phone": has_phone.copy(),
        "device_id": np.zeros(size, dtype=bool),
    }
    link_rows = _rows(
        f"SELECT customer_id, type FROM {_table(IdentityLink)} "
        "WHERE customer_id BETWEEN %s AND %s AND (method = %s OR confidence >= %s) "
        f"AND type IN ({', '.join(['%s'] * len(addresses))})",
        [
            *span,
            LinkMethod.DETERMINISTIC.value,
            settings.IDENTITY_MIN_CONFIDENCE,
            *sorted(addresses),
        ],
    )
    if link_rows:
        owners, link_types = zip(*link_rows, strict=True)
        at = _positions(ids, list(owners))
        type_of = np.array(link_types, dtype=object)
        for kind, reachable in addresses.items():
            reachable[at[type_of == kind]] = True

    return CustomerBatch.from_columns(
        ids,
        addresses=addresses,
        columns={
            "age": _ages(field["birth_date"], today),
            "tenure_months": _months(field["customer_since"], today),
            "region": _strings(_blank_to_none(field["region"])),
            "branch_code": _strings(_blank_to_none(field["branch_code"])),
            "time_zone": _strings(_blank_to_none(field["time_zone"])),
            "risk_band": _strings(_blank_to_none(field["risk_band"])),
            "income_band": _strings(_blank_to_none(field["income_band"])),
            "segment": _strings(segment),
            "has_email": BoolColumn(has_email, np.ones(size, dtype=bool)),
            "has_phone": BoolColumn(has_phone, np.ones(size, dtype=bool)),
        },
        attributes=attributes,
        product_codes=product_codes,
        holdings=holdings,
        consents=consents,
        global_opt_out=global_opt_out,
        do_not_contact=do_not_contact,
        erased=np.asarray(field["erased"], dtype=bool),
        contacts=contacts,
        events=events,
        suppressions=suppressions,
        external_ids=field["external_id"],
    )
