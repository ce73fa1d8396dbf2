"""The demo bank's campaigns: one real-time campaign per trigger, three journeys that
fire on an absent follow-up event, a weekly batch and an inbound next best offer.

Triggers read the signal: the fuel campaign fires on purchases at fuel merchants only
(a condition on the card transaction's payload), the loan-page journey on visits to
``/loans/*`` pages (a page pattern).

Every campaign is running, its targeting approved under
``campaigns.selectors.targeting_hash``, the hash the campaign services check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from campaigns.choices import CampaignKind
from core.choices import Channel

OUTBOUND_PREFERENCE: tuple[str, ...] = (Channel.PUSH, Channel.EMAIL, Channel.SMS)
SERVICE_CONTROL_PCT = Decimal("5")
SALES_CONTROL_PCT = Decimal("10")
# What a fuel purchase is: a card payment (not a refund) at a fuel merchant.
FUEL_PURCHASE = 'merchant_category in ("fuel") and amount > 0'
LOAN_PAGES = ("/loans/*",)
# The journeys that came before trigger conditions keep their week of lateness.
JOURNEY_LATENESS_HOURS = 7 * 24


@dataclass(frozen=True, slots=True)
class CampaignOfferDef:
    offer_code: str
    arm: str = "A"
    weight: Decimal = Decimal("1")


@dataclass(frozen=True, slots=True)
class CampaignDef:
    code: str
    name: str
    objective: str
    kind: str
    offers: tuple[CampaignOfferDef, ...]
    channels: tuple[str, ...]
    control_group_pct: Decimal = SALES_CONTROL_PCT
    audience_rule: str = ""
    trigger_event_types: tuple[str, ...] = ()
    # Per trigger event type: condition, pages, max_age_hours (``campaigns.triggers``).
    trigger_conditions: dict[str, dict[str, Any]] = field(default_factory=dict)
    absence_event_type: str = ""
    absence_days: int | None = None
    schedule: str = ""
    daily_volume_limit: int | None = None
    per_customer_cap: int | None = None
    priority: int = 0


def _offers(*codes: str) -> tuple[CampaignOfferDef, ...]:
    return tuple(CampaignOfferDef(code) for code in codes)


CAMPAIGNS: tuple[CampaignDef, ...] = (
    CampaignDef(
        "RT_PAYMENT_HELP",
        "Payment failed: help first",
        "When a payment fails, offer help (retry, new date, payment plan) at once. "
        "Service action: exempt from marketing consent and caps, never a sales pitch.",
        CampaignKind.REALTIME,
        _offers("PAYMENT_HELP"),
        (Channel.PUSH, Channel.SMS, Channel.EMAIL),
        control_group_pct=SERVICE_CONTROL_PCT,
        trigger_event_types=("payment_failed",),
        priority=100,
    ),
    CampaignDef(
        "RT_FUEL_CARD",
        "Fuel purchase: fuel rewards card (A/B)",
        "A card payment at a fuel merchant (MCC 5541/5542) suggests the Fuel card. A/B "
        "test: 3% cashback (A) against a EUR 40 welcome credit (B), 50/50.",
        CampaignKind.REALTIME,
        (
            CampaignOfferDef("FUEL_CARD_CASHBACK_A", "A", Decimal("50")),
            CampaignOfferDef("FUEL_CARD_CASHBACK_B", "B", Decimal("50")),
        ),
        OUTBOUND_PREFERENCE,
        audience_rule='not holds("FUEL_CARD")',
        trigger_event_types=("card_transaction",),
        trigger_conditions={"card_transaction": {"condition": FUEL_PURCHASE}},
        per_customer_cap=3,
        priority=40,
    ),
    CampaignDef(
        "RT_SAVINGS_RETENTION",
        "Large transfer out: keep the savings",
        "A large transfer to another bank is a sign of savings leaving: offer a better "
        "savings rate or a term deposit.",
        CampaignKind.REALTIME,
        _offers("SAVINGS_RETENTION", "TERM_DEPOSIT_12M"),
        (Channel.PUSH, Channel.EMAIL),
        trigger_event_types=("large_transfer_out",),
        priority=60,
    ),
    CampaignDef(
        "RT_PERSONAL_LOAN",
        "Loan calculator used: personal loan",
        "A customer who used the loan calculator gets the personal (or car) loan offer "
        "while the need is fresh.",
        CampaignKind.REALTIME,
        _offers("PERSONAL_LOAN_RATE", "CAR_LOAN_GREEN"),
        (Channel.PUSH, Channel.EMAIL),
        audience_rule='risk_band != "high"',
        trigger_event_types=("loan_calculator_used",),
        per_customer_cap=2,
        priority=50,
    ),
    CampaignDef(
        "JOURNEY_CARD_ACTIVATION",
        "Card issued, not activated in 7 days",
        "Journey: a card issued and not activated within 7 days gets an activation nudge.",
        CampaignKind.REALTIME,
        _offers("CARD_ACTIVATION_NUDGE"),
        (Channel.PUSH, Channel.SMS, Channel.EMAIL),
        control_group_pct=SERVICE_CONTROL_PCT,
        trigger_event_types=("card_issued",),
        trigger_conditions={"card_issued": {"max_age_hours": JOURNEY_LATENESS_HOURS}},
        absence_event_type="card_activated",
        absence_days=7,
        per_customer_cap=2,
        priority=70,
    ),
    CampaignDef(
        "JOURNEY_FIRST_USE",
        "Account opened, no card payment in 14 days",
        "Journey: a new account without a card payment within 14 days gets the "
        "first-use incentive.",
        CampaignKind.REALTIME,
        _offers("FIRST_USE_CASHBACK"),
        OUTBOUND_PREFERENCE,
        trigger_event_types=("account_opened",),
        trigger_conditions={"account_opened": {"max_age_hours": JOURNEY_LATENESS_HOURS}},
        absence_event_type="card_transaction",
        absence_days=14,
        per_customer_cap=1,
        priority=30,
    ),
    CampaignDef(
        "JOURNEY_LOAN_PAGE",
        "Loan page visited, no application in 3 days",
        "Journey: a customer who looked at a loan page and has not applied within 3 days "
        "gets a personal loan follow-up on their best channel.",
        CampaignKind.REALTIME,
        _offers("PERSONAL_LOAN_RATE"),
        (Channel.PUSH, Channel.EMAIL),
        audience_rule='risk_band != "high"',
        trigger_event_types=("page_view",),
        trigger_conditions={"page_view": {"pages": list(LOAN_PAGES)}},
        absence_event_type="loan_application",
        absence_days=3,
        per_customer_cap=1,
        priority=45,
    ),
    CampaignDef(
        "BATCH_WEEKLY_CROSS_SELL",
        "Weekly cross-sell",
        "Every Monday at 09:00: the best savings, protection or investment offer for each "
        "customer, within the contact policy.",
        CampaignKind.BATCH,
        _offers(
            "SAVINGS_STARTER",
            "TERM_DEPOSIT_12M",
            "JUNIOR_SAVINGS_START",
            "HOME_INSURANCE_BUNDLE",
            "LIFE_INSURANCE_PROTECT",
            "TRAVEL_INSURANCE_ANNUAL",
            "INVESTMENT_FUNDS_START",
            "PENSION_PLAN_PPR",
            "GOLD_CARD_UPGRADE",
            "CLASSIC_CARD_WELCOME",
        ),
        (Channel.EMAIL, Channel.PUSH, Channel.SMS),
        audience_rule="age >= 18 and tenure_months >= 3",
        schedule="0 9 * * mon",
        daily_volume_limit=200_000,
        per_customer_cap=4,
        priority=10,
    ),
    CampaignDef(
        "INBOUND_NBO",
        "Next best offer while the customer is with us",
        "Branch bankers, contact-center agents, the app and the web site ask for the next "
        "best offer while the customer is present.",
        CampaignKind.INBOUND,
        _offers(
            "CLASSIC_CARD_WELCOME",
            "GOLD_CARD_UPGRADE",
            "TRAVEL_CARD_NO_FX",
            "PERSONAL_LOAN_RATE",
            "CAR_LOAN_GREEN",
            "OVERDRAFT_ARRANGED",
            "MORTGAGE_VARIABLE_FIRST_HOME",
            "MORTGAGE_FIXED_10Y",
            "MORTGAGE_SWITCH_SAVE",
            "SAVINGS_STARTER",
            "TERM_DEPOSIT_12M",
            "JUNIOR_SAVINGS_START",
            "HOME_INSURANCE_BUNDLE",
            "LIFE_INSURANCE_PROTECT",
            "TRAVEL_INSURANCE_ANNUAL",
            "INVESTMENT_FUNDS_START",
            "PENSION_PLAN_PPR",
            "BROKERAGE_ACCOUNT_OPEN",
            "SECURITY_ALERTS_SETUP",
        ),
        (Channel.BRANCH, Channel.CONTACT_CENTER, Channel.MOBILE_APP, Channel.WEB),
        priority=20,
    ),
)
