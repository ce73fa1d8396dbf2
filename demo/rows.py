"""Turn one drawn chunk (population, consents, history) into database rows.

Every value that lands in a row comes from the chunk's generator or the as-of date,
except the ``created_at``/``updated_at`` bookkeeping stamps, which say when the seeding
ran (``now``).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from compliance.choices import ConsentChannel, ConsentStatus
from compliance.models import Consent, DoNotContact
from core.choices import Channel
from customers.choices import IdentifierType, LinkMethod
from customers.models import Customer, Holding, IdentityLink
from customers.pseudonyms import pseudonym_for
from decisioning.models import Response
from demo import consents as consent_codes
from demo.catalog import CORE_PRODUCTS, DEBIT_CARD, PRODUCTS_BY_CODE
from demo.consents import (
    CONSENT_SOURCES,
    DO_NOT_CONTACT_REASONS,
    ConsentDraw,
)
from demo.history import OUTCOMES, WEIGHTED_CHANNELS, HistoryDraw, history_offers
from demo.population import Population
from offers.choices import ProductFamily

SEED_SOURCE = "seed_demo"
CLOSED_LOAN_SHARE = 0.06
DEVICE_LINK_SHARE = 0.7
DEVICE_CONFIDENCE = (0.80, 0.99)

CUSTOMER_FIELDS = (
    "id",
    "external_id",
    "pseudonym",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "customer_since",
    "region",
    "branch_code",
    "time_zone",
    "risk_band",
    "income_band",
    "attributes",
    "erased_at",
    "created_at",
    "updated_at",
)
HOLDING_FIELDS = ("customer_id", "product_code", "opened_at", "closed_at", "source")
IDENTITY_FIELDS = ("customer_id", "type", "value", "method", "confidence", "source", "created_at")
CONSENT_FIELDS = ("customer_id", "channel", "status", "source", "captured_at", "updated_at")
DO_NOT_CONTACT_FIELDS = ("customer_id", "reason", "source", "created_at", "created_by")
RESPONSE_FIELDS = (
    "response_id",
    "customer_id",
    "decision_id",
    "message_id",
    "offer_id",
    "outcome",
    "occurred_at",
    "channel",
    "agent_id",
    "body_hash",
    "source",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class RowContext:
    """What rows need beyond the chunk: catalog ids, the clock stamp, the seeding actor."""

    offer_ids: Mapping[str, int]
    now: datetime.datetime
    as_of_midnight_utc: datetime.datetime
    actor: str


@dataclass(frozen=True, slots=True)
class TableRows:
    model: type
    fields: tuple[str, ...]
    rows: list[tuple]


def _day(date: datetime.date, days: int) -> datetime.date:
    return date + datetime.timedelta(days=days)


def customer_rows(pop: Population, ctx: RowContext) -> TableRows:
    rows = []
    for i in range(pop.size):
        external_id = pop.external_id(i)
        rows.append(
            (
                pop.customer_id(i),
                external_id,
                pseudonym_for(external_id),
                pop.first_name[i],
                pop.last_name[i],
                pop.email(i) if pop.has_email[i] else "",
                pop.phone(i) if pop.has_phone[i] else "",
                pop.birth_date[i],
                pop.customer_since[i],
                str(pop.region[i]),
                str(pop.branch_code[i]),
                str(pop.time_zone[i]),
                str(pop.risk_band[i]),
                str(pop.income_band[i]),
                pop.attributes(i),
                None,
                ctx.now,
                ctx.now,
            )
        )
    return TableRows(Customer, CUSTOMER_FIELDS, rows)


def holding_rows(pop: Population, rng: np.random.Generator) -> TableRows:
    """Open holdings, opened during the customer's tenure, plus some repaid loans."""
    rows: list[tuple] = []
    tenure = pop.tenure_days
    for code, held in pop.holdings.items():
        who = np.flatnonzero(held)
        if code in CORE_PRODUCTS:
            offsets = np.zeros(len(who), dtype=np.int64)
        else:
            offsets = (rng.random(len(who)) * tenure[who]).astype(np.int64)
        for i, offset in zip(who.tolist(), offsets.tolist(), strict=True):
            rows.append(
                (
                    pop.customer_id(i),
                    code,
                    _day(pop.customer_since[i], offset),
                    None,
                    "core_banking",
                )
            )
    loans = [
        p.code for p in PRODUCTS_BY_CODE.values() if p.family == ProductFamily.LOANS and p.is_credit
    ]
    closed = (rng.random(pop.size) < CLOSED_LOAN_SHARE) & (tenure > 730)
    picks = rng.integers(0, len(loans), pop.size)
    opened_frac = rng.random(pop.size) * 0.5
    for i in np.flatnonzero(closed).tolist():
        code = loans[int(picks[i])]
        if pop.holdings[code][i]:
            continue
        opened = int(opened_frac[i] * tenure[i])
        closed_after = int(opened + 365 + (tenure[i] - opened - 365) * 0.6)
        rows.append(
            (
                pop.customer_id(i),
                code,
                _day(pop.customer_since[i], opened),
                _day(pop.customer_since[i], closed_after),
                "core_banking",
            )
        )
    return TableRows(Holding, HOLDING_FIELDS, rows)


def identity_rows(pop: Population, rng: np.random.Generator, ctx: RowContext) -> TableRows:
    """Deterministic links the bank issued; device ids matched with a confidence."""
    det, prob = LinkMethod.DETERMINISTIC, LinkMethod.PROBABILISTIC
    rows: list[tuple] = []
    cards = [code for code in pop.holdings if code == DEBIT_CARD or code.endswith("_CARD")]
    device = pop.digital_active & (rng.random(pop.size) < DEVICE_LINK_SHARE)
    low, high = DEVICE_CONFIDENCE
    confidence = np.round(low + rng.random(pop.size) * (high - low), 3)
    for i in range(pop.size):
        cid = pop.customer_id(i)
        rows.append(
            (
                cid,
                IdentifierType.ACCOUNT_NUMBER,
                pop.account_number(i),
                det,
                1.0,
                "core_banking",
                ctx.now,
            )
        )
        for code in cards:
            if pop.holdings[code][i]:
                token = pop.card_token(i, code)
                rows.append(
                    (cid, IdentifierType.CARD_TOKEN, token, det, 1.0, "card_processor", ctx.now)
                )
        if pop.has_email[i]:
            rows.append(
                (cid, IdentifierType.EMAIL, pop.email(i), det, 1.0, "core_banking", ctx.now)
            )
        if pop.has_phone[i]:
            rows.append(
                (cid, IdentifierType.PHONE, pop.phone(i), det, 1.0, "core_banking", ctx.now)
            )
        if pop.digital_active[i]:
            login = f"login-{pop.external_id(i).lower()}"
            rows.append((cid, IdentifierType.LOGIN_ID, login, det, 1.0, "online_banking", ctx.now))
        if device[i]:
            rows.append(
                (
                    cid,
                    IdentifierType.DEVICE_ID,
                    pop.device_id(i),
                    prob,
                    float(confidence[i]),
                    "device_fingerprint",
                    ctx.now,
                )
            )
    return TableRows(IdentityLink, IDENTITY_FIELDS, rows)


def _captured_at(pop: Population, i: int, fraction: float, ctx: RowContext) -> datetime.datetime:
    """Some morning of the customer's tenure, always before the seed's "now" (the start of
    its as-of day): a consent captured later would outrank a real change made today."""
    days_before = int(pop.tenure_days[i] * (1.0 - fraction)) + 1
    return ctx.as_of_midnight_utc - datetime.timedelta(days=days_before, hours=-10)


def consent_rows(
    pop: Population, draw: ConsentDraw, rng: np.random.Generator, ctx: RowContext
) -> tuple[TableRows, TableRows]:
    rows: list[tuple] = []
    for channel, status in draw.status.items():
        who = np.flatnonzero(status != consent_codes.NONE)
        when = rng.random(len(who))
        sources = rng.integers(0, len(CONSENT_SOURCES), len(who))
        for i, fraction, source in zip(who.tolist(), when.tolist(), sources.tolist(), strict=True):
            granted = status[i] == consent_codes.GRANTED
            rows.append(
                (
                    pop.customer_id(i),
                    ConsentChannel(channel).value,
                    ConsentStatus.GRANTED if granted else ConsentStatus.REVOKED,
                    CONSENT_SOURCES[source],
                    _captured_at(pop, i, fraction, ctx),
                    ctx.now,
                )
            )
    dnc: list[tuple] = []
    reasons = rng.integers(0, len(DO_NOT_CONTACT_REASONS), pop.size)
    for i in np.flatnonzero(draw.do_not_contact).tolist():
        dnc.append(
            (
                pop.customer_id(i),
                DO_NOT_CONTACT_REASONS[reasons[i]],
                "contact_center",
                ctx.now,
                ctx.actor,
            )
        )
    return (
        TableRows(Consent, CONSENT_FIELDS, rows),
        TableRows(DoNotContact, DO_NOT_CONTACT_FIELDS, dnc),
    )


def _agent(pop: Population, i: int, channel: str, pick: int) -> str:
    if channel == Channel.BRANCH:
        return f"{pop.branch_code[i]}-banker-{pick % 6 + 1}"
    if channel == Channel.CONTACT_CENTER:
        return f"cc-agent-{pick % 40 + 1:03d}"
    return ""


def response_rows(
    pop: Population, history: HistoryDraw, rng: np.random.Generator, ctx: RowContext
) -> TableRows:
    offers = history_offers()
    offer_codes = [o.code for o in offers]
    offer_ids = [ctx.offer_ids[code] for code in offer_codes]
    picks = rng.integers(0, 1_000_000, history.size)
    rows: list[tuple] = []
    for r in range(history.size):
        i = int(history.customer[r])
        offer = int(history.offer[r])
        channel = WEIGHTED_CHANNELS[int(history.channel[r])]
        outcome = OUTCOMES[int(history.outcome[r])]
        occurred_at = ctx.as_of_midnight_utc - datetime.timedelta(
            days=int(history.days_before[r]), seconds=-int(history.second_of_day[r])
        )
        response_id = f"hist-{pop.external_id(i)}-{int(history.ordinal[r]):02d}"
        body = f"{response_id}|{offer_codes[offer]}|{outcome}|{occurred_at.isoformat()}|{channel}"
        rows.append(
            (
                response_id,
                pop.customer_id(i),
                None,
                None,
                offer_ids[offer],
                str(outcome),
                occurred_at,
                channel,
                _agent(pop, i, channel, int(picks[r])),
                hashlib.sha256(body.encode()).hexdigest(),
                SEED_SOURCE,
                ctx.now,
            )
        )
    return TableRows(Response, RESPONSE_FIELDS, rows)


def chunk_tables(
    pop: Population,
    draw: ConsentDraw,
    history: HistoryDraw,
    rng: np.random.Generator,
    ctx: RowContext,
) -> Iterator[TableRows]:
    """The chunk's rows, parents first."""
    yield customer_rows(pop, ctx)
    yield holding_rows(pop, rng)
    yield identity_rows(pop, rng, ctx)
    consents, do_not_contact = consent_rows(pop, draw, rng, ctx)
    yield consents
    yield do_not_contact
    yield response_rows(pop, history, rng, ctx)
