"""The demo bank's catalog: 21 products, 25 offers and their words on every channel.

Banco Exemplo is a fictional Portuguese retail bank (time zone Europe/Lisbon). The
catalog is the same for every seed; only the customers and their history vary.

Two product codes customers hold are deliberately *not* catalog products: the current
account and its debit card (``CORE_PRODUCTS``). Nearly everyone holds them and they are
not cross-sold; were they catalog products, "a held product's family is never offered"
would keep every deposits and cards offer from almost every customer.

``CARD_SERVICES`` and ``PAYMENT_SUPPORT`` are servicing products (annual value 0): they
carry the service actions (card activation, security alerts, payment help) and the
first-use incentive, which sets its own ``value``.

Content is written once per offer (``Copy``) and shaped per channel by
``channel_contents``: short for push and ATM, an SMS with the opt-out line, a script
for branch bankers and contact-center agents, a full e-mail. Credit products carry a
representative APR disclosure on every channel and the APR in the SMS itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from compliance.prechecks import sms_length, sms_text
from core.choices import Channel
from offers.choices import OfferKind, ProductFamily

BANK_NAME = "Banco Exemplo"
SMS_OPT_OUT = "Reply STOP to opt out."
CONTENT_VERSION = 1

# Held by (nearly) everyone, never cross-sold: not catalog products.
CURRENT_ACCOUNT = "CURRENT_ACCOUNT"
DEBIT_CARD = "DEBIT_CARD"
CORE_PRODUCTS: tuple[str, ...] = (CURRENT_ACCOUNT, DEBIT_CARD)

_DEPOSIT_PROTECTION = (
    "Deposits are covered by the Portuguese deposit protection scheme (Fundo de Garantia "
    "de Depósitos) up to EUR 100,000 per depositor and per bank."
)
_INVESTMENT_RISK = (
    "Investing involves risk: the value of investments and the income from them can go "
    "down as well as up and you may get back less than you invest. Past performance is "
    "not a reliable indicator of future results. Read the key information document "
    "before investing."
)
_INSURANCE = (
    "Insurance provided by Exemplo Seguros, S.A., with Banco Exemplo acting as tied "
    "insurance intermediary. Cover, exclusions and limits are set out in the policy "
    "terms and the pre-contractual information document."
)
_SUBJECT_TO_STATUS = "Credit is subject to approval and status. Borrow only what you can repay."


@dataclass(frozen=True, slots=True)
class ProductDef:
    code: str
    name: str
    family: str
    annual_value: Decimal
    is_credit: bool
    description: str
    disclosure: str = ""
    # Representative APR, stated in every credit SMS (None for non-credit products).
    apr: str | None = None
    servicing: bool = False

    @property
    def sms_disclosure(self) -> str:
        """The disclosure an SMS can carry: the SMS gateway sends body + disclosure."""
        if self.apr:
            return f"Rep. APR {self.apr}, subject to status."
        if self.family == ProductFamily.INVESTMENTS:
            return "Capital at risk."
        return ""


@dataclass(frozen=True, slots=True)
class Copy:
    """The words of an offer, written once and shaped per channel."""

    headline: str  # app, web, e-mail subject; at most 60 characters
    teaser: str  # one sentence: push and ATM
    body: str  # two or three sentences: app, web, e-mail, scripts
    sms: str  # the SMS text before the opt-out line (plain ASCII)
    call_to_action: str
    talking_points: tuple[str, ...]  # customer-facing highlights (web, e-mail, scripts)
    staff_note: str = ""  # for bankers and agents only


@dataclass(frozen=True, slots=True)
class OfferDef:
    code: str
    name: str
    product_code: str
    copy: Copy
    kind: str = OfferKind.SALES
    eligibility_rule: str = ""
    lever: Decimal = Decimal("1.000")
    cooldown_days: int = 14
    trigger_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ContentDef:
    channel: str
    headline: str
    body: str
    call_to_action: str
    disclosure: str


def _credit_disclosure(example: str, apr: str) -> str:
    return f"Representative example: {example} Representative APR {apr}. {_SUBJECT_TO_STATUS}"


PRODUCTS: tuple[ProductDef, ...] = (
    # --- cards -----------------------------------------------------------------------
    ProductDef(
        "CLASSIC_CARD",
        "Classic credit card",
        ProductFamily.CARDS,
        Decimal("85.00"),
        True,
        "Everyday credit card, no annual fee in the first year, up to 50 days interest-free.",
        _credit_disclosure(
            "credit limit EUR 1,500 used in full and repaid over 12 months at a variable "
            "borrowing rate of 15.9%, annual fee EUR 24 from the second year.",
            "17.9%",
        ),
        apr="17.9%",
    ),
    ProductDef(
        "GOLD_CARD",
        "Gold credit card",
        ProductFamily.CARDS,
        Decimal("160.00"),
        True,
        "Premium credit card with travel insurance, airport lounges and a higher limit.",
        _credit_disclosure(
            "credit limit EUR 5,000 used in full and repaid over 12 months at a variable "
            "borrowing rate of 13.5%, annual fee EUR 60.",
            "15.9%",
        ),
        apr="15.9%",
    ),
    ProductDef(
        "FUEL_CARD",
        "Fuel rewards credit card",
        ProductFamily.CARDS,
        Decimal("110.00"),
        True,
        "Credit card with cashback at fuel stations and EV charging points.",
        _credit_disclosure(
            "credit limit EUR 2,000 used in full and repaid over 12 months at a variable "
            "borrowing rate of 16.5%, annual fee EUR 18.",
            "18.5%",
        ),
        apr="18.5%",
    ),
    ProductDef(
        "TRAVEL_CARD",
        "Multi-currency travel card",
        ProductFamily.CARDS,
        Decimal("40.00"),
        False,
        "Prepaid card holding 12 currencies, no foreign-exchange fee on card payments.",
        "Prepaid card: you can only spend what you load. ATM withdrawals abroad above "
        "EUR 250 a month cost 1.5%. Full price list in the fees leaflet.",
    ),
    ProductDef(
        "CARD_SERVICES",
        "Card services",
        ProductFamily.CARDS,
        Decimal("0.00"),
        False,
        "Servicing: card activation, mobile wallets and security alerts. Not sold.",
        servicing=True,
    ),
    # --- loans -----------------------------------------------------------------------
    ProductDef(
        "PERSONAL_LOAN",
        "Personal loan",
        ProductFamily.LOANS,
        Decimal("420.00"),
        True,
        "Fixed-rate personal loan from EUR 1,000 to EUR 50,000 over 12 to 84 months.",
        _credit_disclosure(
            "EUR 10,000 over 60 months at a fixed borrowing rate of 8.5%: 60 monthly "
            "payments of EUR 205.17, total amount payable EUR 12,309.92 plus a EUR 150 "
            "arrangement fee.",
            "9.8%",
        ),
        apr="9.8%",
    ),
    ProductDef(
        "CAR_LOAN",
        "Car loan",
        ProductFamily.LOANS,
        Decimal("380.00"),
        True,
        "Loan for a new or used car, with a lower rate for electric and hybrid cars.",
        _credit_disclosure(
            "EUR 20,000 over 84 months at a fixed borrowing rate of 6.9%: 84 monthly "
            "payments of EUR 300.88, total amount payable EUR 25,273.66 plus a EUR 200 "
            "arrangement fee.",
            "7.8%",
        ),
        apr="7.8%",
    ),
    ProductDef(
        "OVERDRAFT",
        "Arranged overdraft",
        ProductFamily.LOANS,
        Decimal("95.00"),
        True,
        "An arranged overdraft on the current account, up to one month's salary.",
        _credit_disclosure(
            "arranged overdraft of EUR 1,000 used in full for 12 months at a variable "
            "borrowing rate of 14.5%.",
            "16.4%",
        ),
        apr="16.4%",
    ),
    ProductDef(
        "PAYMENT_SUPPORT",
        "Payment support",
        ProductFamily.LOANS,
        Decimal("0.00"),
        False,
        "Servicing: help after a failed or missed payment, payment plans. Not sold.",
        servicing=True,
    ),
    # --- mortgages -------------------------------------------------------------------
    ProductDef(
        "MORTGAGE_VARIABLE",
        "Variable-rate home loan",
        ProductFamily.MORTGAGES,
        Decimal("2400.00"),
        True,
        "Home loan at 12-month Euribor plus a spread from 0.85%, up to 90% of the value.",
        _credit_disclosure(
            "EUR 150,000 over 30 years at a variable borrowing rate of 3.6% (12-month "
            "Euribor 2.6% plus spread 1.0%): 360 monthly payments of EUR 681.97, total "
            "amount payable EUR 245,508.49 plus fees and mandatory insurance. Payments "
            "change when Euribor changes. Your home may be repossessed if you do not keep "
            "up repayments.",
            "4.1%",
        ),
        apr="4.1%",
    ),
    ProductDef(
        "MORTGAGE_FIXED",
        "Fixed-rate home loan",
        ProductFamily.MORTGAGES,
        Decimal("2100.00"),
        True,
        "Home loan with the rate fixed for the first 10 years.",
        _credit_disclosure(
            "EUR 150,000 over 30 years at a borrowing rate fixed at 3.4% for 10 years: 360 "
            "monthly payments of EUR 665.22, total amount payable EUR 239,479.87 plus fees "
            "and mandatory insurance. Your home may be repossessed if you do not keep up "
            "repayments.",
            "3.9%",
        ),
        apr="3.9%",
    ),
    ProductDef(
        "MORTGAGE_SWITCH",
        "Home loan transfer",
        ProductFamily.MORTGAGES,
        Decimal("1800.00"),
        True,
        "Move a home loan from another bank; we pay the transfer costs up to EUR 1,000.",
        _credit_disclosure(
            "EUR 120,000 over 25 years at a variable borrowing rate of 3.3%: 300 monthly "
            "payments of EUR 587.95, total amount payable EUR 176,386.16 plus fees and "
            "mandatory insurance. Your home may be repossessed if you do not keep up "
            "repayments.",
            "3.8%",
        ),
        apr="3.8%",
    ),
    # --- deposits --------------------------------------------------------------------
    ProductDef(
        "SAVINGS_ACCOUNT",
        "Flexible savings account",
        ProductFamily.DEPOSITS,
        Decimal("60.00"),
        False,
        "Instant-access savings with round-ups and savings goals in the app.",
        f"Gross annual rate 2.25% (net 1.62%) for 6 months on new money, then 1.0%. "
        f"{_DEPOSIT_PROTECTION}",
    ),
    ProductDef(
        "TERM_DEPOSIT",
        "12-month term deposit",
        ProductFamily.DEPOSITS,
        Decimal("75.00"),
        False,
        "Fixed-rate deposit for 12 months from EUR 1,000.",
        f"Gross annual rate 2.6% (net 1.87%), fixed for 12 months; early withdrawal loses "
        f"the interest. {_DEPOSIT_PROTECTION}",
    ),
    ProductDef(
        "JUNIOR_SAVINGS",
        "Junior savings account",
        ProductFamily.DEPOSITS,
        Decimal("30.00"),
        False,
        "Savings account for children under 18, opened by a parent or guardian.",
        f"Gross annual rate 2.0% (net 1.44%) up to EUR 10,000. {_DEPOSIT_PROTECTION}",
    ),
    # --- insurance -------------------------------------------------------------------
    ProductDef(
        "HOME_INSURANCE",
        "Home insurance",
        ProductFamily.INSURANCE,
        Decimal("140.00"),
        False,
        "Buildings and contents cover with 24-hour home assistance.",
        _INSURANCE,
    ),
    ProductDef(
        "LIFE_INSURANCE",
        "Life insurance",
        ProductFamily.INSURANCE,
        Decimal("190.00"),
        False,
        "Life and permanent disability cover for the people who depend on you.",
        _INSURANCE,
    ),
    ProductDef(
        "TRAVEL_INSURANCE",
        "Annual travel insurance",
        ProductFamily.INSURANCE,
        Decimal("45.00"),
        False,
        "Worldwide medical, cancellation and luggage cover for every trip of the year.",
        _INSURANCE,
    ),
    # --- investments -----------------------------------------------------------------
    ProductDef(
        "INVESTMENT_FUNDS",
        "Investment funds",
        ProductFamily.INVESTMENTS,
        Decimal("320.00"),
        False,
        "A range of diversified funds from EUR 50 a month, chosen with a suitability test.",
        _INVESTMENT_RISK,
    ),
    ProductDef(
        "PENSION_PLAN",
        "Retirement savings plan (PPR)",
        ProductFamily.INVESTMENTS,
        Decimal("260.00"),
        False,
        "Retirement savings plan with an income-tax deduction on contributions.",
        f"Tax benefits depend on your circumstances and may change. {_INVESTMENT_RISK}",
    ),
    ProductDef(
        "BROKERAGE_ACCOUNT",
        "Online brokerage account",
        ProductFamily.INVESTMENTS,
        Decimal("150.00"),
        False,
        "Buy and sell shares and ETFs on European and US markets from the app.",
        f"Commission from EUR 4.90 per order; custody fees apply. {_INVESTMENT_RISK}",
    ),
)

PRODUCTS_BY_CODE: Mapping[str, ProductDef] = MappingProxyType({p.code: p for p in PRODUCTS})


def _weights(**weights: float) -> Mapping[str, float]:
    return MappingProxyType(dict(weights))


OFFERS: tuple[OfferDef, ...] = (
    # --- cards -----------------------------------------------------------------------
    OfferDef(
        "CLASSIC_CARD_WELCOME",
        "Classic card: first year without annual fee",
        "CLASSIC_CARD",
        Copy(
            headline="A credit card with no fee in year one",
            teaser="Your Classic card: no annual fee in the first year.",
            body="Pay by card or phone and get up to 50 days interest-free on purchases. "
            "No annual fee in the first year.",
            sms="Classic credit card: no fee in year one, up to 50 days interest-free. "
            "See the app.",
            call_to_action="See the Classic card",
            talking_points=(
                "No annual fee in the first year, EUR 24 after",
                "Up to 50 days interest-free on purchases repaid in full",
                "Representative APR 17.9%",
            ),
        ),
        eligibility_rule='age >= 18 and risk_band != "high" and attributes.salary >= 870',
        cooldown_days=30,
    ),
    OfferDef(
        "GOLD_CARD_UPGRADE",
        "Gold card with travel benefits",
        "GOLD_CARD",
        Copy(
            headline="Travel further with the Gold card",
            teaser="Gold card: lounge access and travel insurance included.",
            body="Airport lounge access, travel insurance for the whole family and a "
            "higher credit limit, with one card.",
            sms="Gold credit card: lounges and family travel insurance included. Details "
            "in the app.",
            call_to_action="Discover the Gold card",
            talking_points=(
                "Lounge access: 4 free visits a year",
                "Family travel insurance when trips are paid with the card",
                "Annual fee EUR 60, representative APR 15.9%",
            ),
        ),
        eligibility_rule='age >= 21 and income_band in ("high", "affluent") and risk_band == "low"',
        lever=Decimal("1.100"),
        cooldown_days=30,
    ),
    OfferDef(
        "FUEL_CARD_CASHBACK_A",
        "Fuel card: 3% cashback (arm A)",
        "FUEL_CARD",
        Copy(
            headline="3% back on every fill-up",
            teaser="Get 3% cashback at fuel stations with the Fuel card.",
            body="Get 3% cashback at any fuel station or EV charging point, paid monthly "
            "into your account, up to EUR 20 a month.",
            sms="Fuel card: 3% cashback on fuel and EV charging, up to EUR 20 a month. "
            "See the app.",
            call_to_action="Get the Fuel card",
            talking_points=(
                "3% cashback on fuel and EV charging, up to EUR 20 a month",
                "Annual fee EUR 18",
                "Representative APR 18.5%",
            ),
        ),
        eligibility_rule='age >= 18 and risk_band != "high" and attributes.car_owner == true',
        cooldown_days=30,
        trigger_weights=_weights(card_transaction=3.0),
    ),
    OfferDef(
        "FUEL_CARD_CASHBACK_B",
        "Fuel card: EUR 40 welcome credit (arm B)",
        "FUEL_CARD",
        Copy(
            headline="EUR 40 towards your next fill-ups",
            teaser="Fuel card: EUR 40 back after your first EUR 200 of fuel.",
            body="Spend EUR 200 on fuel or EV charging in the first 60 days and we credit "
            "EUR 40 to your account. Then 2% cashback on fuel.",
            sms="Fuel card: EUR 40 back after your first EUR 200 of fuel, then 2% cashback. See "
            "the app.",
            call_to_action="Get the Fuel card",
            talking_points=(
                "EUR 40 credit after EUR 200 of fuel in 60 days",
                "2% cashback on fuel and EV charging afterwards",
                "Annual fee EUR 18, representative APR 18.5%",
            ),
        ),
        eligibility_rule='age >= 18 and risk_band != "high" and attributes.car_owner == true',
        cooldown_days=30,
        trigger_weights=_weights(card_transaction=3.0),
    ),
    OfferDef(
        "TRAVEL_CARD_NO_FX",
        "Travel card without exchange fees",
        "TRAVEL_CARD",
        Copy(
            headline="Pay like a local, in 12 currencies",
            teaser="No exchange fee abroad with the Travel card.",
            body="Load euros, spend in 12 currencies at the interbank rate with no "
            "foreign-exchange fee. Freeze and unfreeze it in the app.",
            sms="Travel card: spend in 12 currencies with no exchange fee. Order it in the app in"
            " 2 minutes.",
            call_to_action="Order the Travel card",
            talking_points=(
                "No foreign-exchange fee on card payments",
                "Prepaid: spend only what you load",
                "Freeze and unfreeze in the app",
            ),
        ),
        eligibility_rule="age >= 18 and attributes.digital_active == true",
        cooldown_days=21,
        trigger_weights=_weights(card_transaction=1.5),
    ),
    OfferDef(
        "FIRST_USE_CASHBACK",
        "First-use incentive: 10% back on first purchases",
        "CARD_SERVICES",
        Copy(
            headline="Your card is ready: 10% back this month",
            teaser="Use your debit card this month and get 10% back, up to EUR 10.",
            body="Make your first purchases with your new debit card in the next 30 days "
            "and we give you 10% back, up to EUR 10.",
            sms="Your new card is ready: get 10% back on purchases in the next 30 days, up to EUR"
            " 10.",
            call_to_action="Add the card to your phone",
            talking_points=(
                "10% back on card purchases for 30 days, up to EUR 10",
                "Add the card to Apple Pay or Google Pay",
            ),
        ),
        eligibility_rule=f'age >= 18 and holds("{DEBIT_CARD}")',
        value=Decimal("35.00"),
        cooldown_days=7,
        trigger_weights=_weights(account_opened=2.0),
    ),
    # --- loans -----------------------------------------------------------------------
    OfferDef(
        "PERSONAL_LOAN_RATE",
        "Personal loan at a fixed 8.5%",
        "PERSONAL_LOAN",
        Copy(
            headline="Plans deserve a fixed rate",
            teaser="Personal loan at a fixed borrowing rate of 8.5%.",
            body="Borrow from EUR 1,000 to EUR 50,000 at a fixed borrowing rate, with an "
            "answer in minutes in the app and no early repayment fee on part payments.",
            sms="Personal loan from EUR 1,000 at a fixed 8.5% borrowing rate. Simulate it in the "
            "app.",
            call_to_action="Simulate your loan",
            talking_points=(
                "Fixed borrowing rate 8.5%, representative APR 9.8%",
                "From EUR 1,000 to EUR 50,000, 12 to 84 months",
                "Affordability is checked before any offer",
            ),
        ),
        eligibility_rule='age >= 21 and age <= 70 and risk_band in ("low", "medium") '
        "and attributes.salary > 1000",
        lever=Decimal("1.200"),
        cooldown_days=30,
        trigger_weights=_weights(loan_calculator_used=4.0),
    ),
    OfferDef(
        "CAR_LOAN_GREEN",
        "Car loan with a lower rate for electric cars",
        "CAR_LOAN",
        Copy(
            headline="A lower rate for a cleaner car",
            teaser="Car loan from 6.9% fixed, lower for electric and hybrid cars.",
            body="Finance a new or used car at a fixed borrowing rate from 6.9%, with a "
            "0.5 point discount for electric and hybrid cars.",
            sms="Car loan at a fixed rate from 6.9%, lower for electric cars. Simulate it in the "
            "app.",
            call_to_action="Simulate your car loan",
            talking_points=(
                "Fixed borrowing rate from 6.9%, representative APR 7.8%",
                "0.5 point discount for electric and hybrid cars",
                "Up to 84 months",
            ),
        ),
        eligibility_rule='age >= 21 and age <= 70 and risk_band != "high" '
        "and attributes.salary > 1200",
        cooldown_days=30,
        trigger_weights=_weights(loan_calculator_used=2.5),
    ),
    OfferDef(
        "OVERDRAFT_ARRANGED",
        "Arranged overdraft for peace of mind",
        "OVERDRAFT",
        Copy(
            headline="A buffer for the end of the month",
            teaser="An arranged overdraft up to one month's salary.",
            body="An arranged overdraft on your current account, up to one month's "
            "salary, so an unexpected bill does not bounce.",
            sms="Arranged overdraft up to one month's salary on your account. Details in the app.",
            call_to_action="See how it works",
            talking_points=(
                "Up to one month's salary",
                "Interest only on what you use",
                "Representative APR 16.4%",
            ),
        ),
        eligibility_rule='age >= 18 and risk_band == "low" and attributes.salary >= 870',
        lever=Decimal("0.800"),
        cooldown_days=30,
    ),
    # --- mortgages -------------------------------------------------------------------
    OfferDef(
        "MORTGAGE_VARIABLE_FIRST_HOME",
        "First home loan, spread from 0.85%",
        "MORTGAGE_VARIABLE",
        Copy(
            headline="Your first home, with a spread from 0.85%",
            teaser="Home loan with a spread from 0.85% and up to 90% financing.",
            body="Buying your first home? Finance up to 90% of its value with a spread "
            "from 0.85% over 12-month Euribor, and a dedicated mortgage adviser.",
            sms="Home loan: spread from 0.85% over Euribor, up to 90% financed. See the app.",
            call_to_action="Book a mortgage adviser",
            talking_points=(
                "Spread from 0.85% over 12-month Euribor",
                "Up to 90% of the home's value",
                "Representative APR 4.1%; payments change with Euribor",
            ),
        ),
        eligibility_rule='age >= 25 and age <= 50 and income_band in ("high", "affluent") '
        'and risk_band != "high" and not holds("MORTGAGE_VARIABLE")',
        lever=Decimal("1.200"),
        cooldown_days=60,
        trigger_weights=_weights(mortgage_simulator_used=3.0),
    ),
    OfferDef(
        "MORTGAGE_FIXED_10Y",
        "Home loan with 10 years fixed",
        "MORTGAGE_FIXED",
        Copy(
            headline="Know your payment for the next 10 years",
            teaser="Home loan with the rate fixed for 10 years.",
            body="Fix your borrowing rate at 3.4% for the first 10 years and plan your "
            "budget with a payment that does not change.",
            sms="Home loan fixed at 3.4% for 10 years. Book a mortgage adviser in the app.",
            call_to_action="Book a mortgage adviser",
            talking_points=(
                "Borrowing rate fixed at 3.4% for 10 years",
                "Representative APR 3.9%",
                "Then variable or a new fixed period",
            ),
        ),
        eligibility_rule='age >= 25 and age <= 55 and income_band != "low" and risk_band != "high"',
        lever=Decimal("1.100"),
        cooldown_days=60,
        trigger_weights=_weights(mortgage_simulator_used=3.0),
    ),
    OfferDef(
        "MORTGAGE_SWITCH_SAVE",
        "Move your home loan to us",
        "MORTGAGE_SWITCH",
        Copy(
            headline="Bring your home loan, we pay the move",
            teaser="Transfer your home loan: we pay up to EUR 1,000 of costs.",
            body="Move your home loan from another bank to a spread from 0.9% and we pay "
            "the transfer costs up to EUR 1,000.",
            sms="Move your home loan to us: we pay up to EUR 1,000 of transfer costs. See the app.",
            call_to_action="Compare your loan",
            talking_points=(
                "We pay transfer costs up to EUR 1,000",
                "Spread from 0.9%, representative APR 3.8%",
                "Free comparison with your current loan",
            ),
        ),
        eligibility_rule='attributes.mortgage_elsewhere == true and age <= 65 and risk_band != "high"',
        cooldown_days=60,
        trigger_weights=_weights(mortgage_simulator_used=2.0),
    ),
    # --- deposits --------------------------------------------------------------------
    OfferDef(
        "SAVINGS_RETENTION",
        "Savings at 2.25% for new money",
        "SAVINGS_ACCOUNT",
        Copy(
            headline="Keep your money working: 2.25% gross",
            teaser="2.25% gross on new savings for 6 months, instant access.",
            body="Put money aside at a gross annual rate of 2.25% for 6 months on new "
            "money, with instant access whenever you need it.",
            sms="Savings at 2.25% gross a year for 6 months on new money, instant access. Open it"
            " in the app.",
            call_to_action="Open a savings account",
            talking_points=(
                "2.25% gross (1.62% net) for 6 months on new money",
                "Instant access, no fees",
                "Covered by the deposit protection scheme",
            ),
        ),
        eligibility_rule="attributes.balance >= 1000",
        lever=Decimal("1.300"),
        cooldown_days=14,
        trigger_weights=_weights(large_transfer_out=4.0),
    ),
    OfferDef(
        "SAVINGS_STARTER",
        "Round-up savings",
        "SAVINGS_ACCOUNT",
        Copy(
            headline="Save the change without thinking",
            teaser="Round up card payments and save the difference.",
            body="Round up every card payment to the next euro and we move the "
            "difference to your savings. Set a goal and watch it grow.",
            sms="Round up your card payments and save the change automatically. Switch it on in "
            "the app.",
            call_to_action="Start saving",
            talking_points=(
                "Automatic round-ups on card payments",
                "Savings goals in the app",
                "Instant access",
            ),
        ),
        eligibility_rule="age >= 18 and tenure_months >= 3",
        cooldown_days=14,
    ),
    OfferDef(
        "TERM_DEPOSIT_12M",
        "12-month deposit at 2.6%",
        "TERM_DEPOSIT",
        Copy(
            headline="2.6% gross, fixed for 12 months",
            teaser="12-month term deposit at 2.6% gross a year.",
            body="Lock in a gross annual rate of 2.6% for 12 months from EUR 1,000. "
            "Interest is paid at maturity.",
            sms="Term deposit at 2.6% gross a year, fixed for 12 months, from EUR 1,000. Open it "
            "in the app.",
            call_to_action="Open a term deposit",
            talking_points=(
                "2.6% gross (1.87% net), fixed for 12 months",
                "From EUR 1,000",
                "Early withdrawal loses the interest",
            ),
        ),
        eligibility_rule="attributes.balance >= 5000",
        cooldown_days=21,
        trigger_weights=_weights(large_transfer_out=2.0),
    ),
    OfferDef(
        "JUNIOR_SAVINGS_START",
        "Savings for your children",
        "JUNIOR_SAVINGS",
        Copy(
            headline="Start their savings today",
            teaser="A savings account for your children at 2.0% gross.",
            body="Open a junior savings account for your children at a gross annual "
            "rate of 2.0% and add to it monthly from your account.",
            sms="Junior savings for your children at 2.0% gross a year. Open it in the app in a "
            "few minutes.",
            call_to_action="Open a junior account",
            talking_points=(
                "2.0% gross (1.44% net) up to EUR 10,000",
                "Monthly transfers from the parent's account",
            ),
        ),
        eligibility_rule="attributes.children > 0",
        cooldown_days=30,
    ),
    # --- insurance -------------------------------------------------------------------
    OfferDef(
        "HOME_INSURANCE_BUNDLE",
        "Home insurance with 24-hour assistance",
        "HOME_INSURANCE",
        Copy(
            headline="Protect your home, day and night",
            teaser="Home insurance with 24-hour assistance from EUR 9 a month.",
            body="Buildings and contents cover with 24-hour assistance for plumbing, "
            "electrics and locks, from EUR 9 a month.",
            sms="Home insurance with 24-hour assistance from EUR 9 a month. Get a quote in the "
            "app.",
            call_to_action="Get a quote",
            talking_points=(
                "Buildings and contents cover",
                "24-hour home assistance",
                "From EUR 9 a month",
            ),
        ),
        eligibility_rule='holds_family("mortgages") or attributes.home_owner == true',
        cooldown_days=30,
    ),
    OfferDef(
        "LIFE_INSURANCE_PROTECT",
        "Life insurance for your family",
        "LIFE_INSURANCE",
        Copy(
            headline="Look after the people who count on you",
            teaser="Life insurance from EUR 8 a month.",
            body="Life and permanent disability cover from EUR 8 a month, with a simple "
            "health questionnaire online.",
            sms="Life insurance from EUR 8 a month, with an online health questionnaire. Get a "
            "quote in the app.",
            call_to_action="Get a quote",
            talking_points=(
                "Life and permanent disability cover",
                "From EUR 8 a month",
                "Online health questionnaire",
            ),
        ),
        eligibility_rule="age >= 18 and age <= 65",
        cooldown_days=30,
    ),
    OfferDef(
        "TRAVEL_INSURANCE_ANNUAL",
        "Annual travel insurance",
        "TRAVEL_INSURANCE",
        Copy(
            headline="One policy for every trip this year",
            teaser="Annual travel insurance from EUR 45 a year.",
            body="Medical expenses, cancellation and luggage cover for every trip of the "
            "year, worldwide, from EUR 45.",
            sms="Annual travel insurance from EUR 45: medical, cancellation and luggage cover. "
            "Get it in the app.",
            call_to_action="Get covered",
            talking_points=(
                "Every trip of the year, worldwide",
                "Medical, cancellation and luggage cover",
                "From EUR 45 a year",
            ),
        ),
        eligibility_rule="age >= 18 and age <= 79",
        cooldown_days=30,
        trigger_weights=_weights(card_transaction=1.3),
    ),
    # --- investments -----------------------------------------------------------------
    OfferDef(
        "INVESTMENT_FUNDS_START",
        "Investment funds from EUR 50 a month",
        "INVESTMENT_FUNDS",
        Copy(
            headline="Put your savings to work",
            teaser="Diversified funds from EUR 50 a month.",
            body="Invest from EUR 50 a month in diversified funds matched to your "
            "profile after a short suitability questionnaire.",
            sms="Invest from EUR 50 a month in diversified funds. See the options in the app.",
            call_to_action="Take the suitability test",
            talking_points=(
                "From EUR 50 a month",
                "Suitability questionnaire first",
                "Capital at risk",
            ),
        ),
        eligibility_rule='age >= 18 and income_band in ("high", "affluent") '
        "and attributes.balance >= 10000",
        lever=Decimal("1.100"),
        cooldown_days=30,
        trigger_weights=_weights(large_transfer_out=1.5),
    ),
    OfferDef(
        "PENSION_PLAN_PPR",
        "Retirement savings plan with tax relief",
        "PENSION_PLAN",
        Copy(
            headline="Save for retirement, deduct it from tax",
            teaser="PPR retirement plan with an income-tax deduction.",
            body="Contribute to a retirement savings plan and deduct 20% of what you "
            "put in from your income tax, within the legal limits.",
            sms="Retirement plan PPR: deduct 20% of contributions from income tax, within limits."
            " See the app.",
            call_to_action="See the PPR",
            talking_points=(
                "20% income-tax deduction on contributions, within limits",
                "Flexible contributions",
                "Capital at risk",
            ),
        ),
        eligibility_rule="age >= 25 and age <= 60 and attributes.salary > 1200",
        cooldown_days=30,
    ),
    OfferDef(
        "BROKERAGE_ACCOUNT_OPEN",
        "Online brokerage account",
        "BROKERAGE_ACCOUNT",
        Copy(
            headline="Shares and ETFs from your phone",
            teaser="Trade shares and ETFs from EUR 4.90 per order.",
            body="Buy and sell shares and ETFs on European and US markets from the app, "
            "from EUR 4.90 per order.",
            sms="Trade shares and ETFs from EUR 4.90 per order in the app.",
            call_to_action="Open a brokerage account",
            talking_points=(
                "European and US markets",
                "From EUR 4.90 per order",
                "Capital at risk",
            ),
        ),
        eligibility_rule='age >= 18 and attributes.digital_active == true and income_band != "low"',
        cooldown_days=30,
    ),
    # --- service actions -------------------------------------------------------------
    OfferDef(
        "PAYMENT_HELP",
        "Help after a failed payment",
        "PAYMENT_SUPPORT",
        Copy(
            headline="A payment did not go through",
            teaser="A payment failed. See your options in the app.",
            body="A payment from your account could not be made. You can retry it, move "
            "the payment date, or talk to us about a payment plan at no cost.",
            sms="A payment from your account failed. See your options in the app or call us free "
            "on 800 200 200.",
            call_to_action="See my options",
            talking_points=(
                "Retry the payment or move its date",
                "Payment plans at no cost",
            ),
            staff_note="Do not offer credit products while the customer is in difficulty.",
        ),
        kind=OfferKind.SERVICE,
        lever=Decimal("2.000"),
        cooldown_days=3,
        trigger_weights=_weights(payment_failed=5.0, missed_loan_payment=5.0, overdraft=3.0),
        value=Decimal("50.00"),
    ),
    OfferDef(
        "CARD_ACTIVATION_NUDGE",
        "Activate your new card",
        "CARD_SERVICES",
        Copy(
            headline="Your new card is waiting",
            teaser="Activate your new card in the app in one tap.",
            body="Your new card was sent a few days ago. Activate it in the app to start "
            "using it; your PIN is in the app too.",
            sms="Your new card was sent. Activate it in the app in one tap.",
            call_to_action="Activate my card",
            talking_points=(
                "Activation in the app or at any ATM",
                "PIN available in the app",
            ),
        ),
        kind=OfferKind.SERVICE,
        lever=Decimal("1.500"),
        cooldown_days=3,
        trigger_weights=_weights(card_issued=2.0),
        value=Decimal("20.00"),
    ),
    OfferDef(
        "SECURITY_ALERTS_SETUP",
        "Turn on card security alerts",
        "CARD_SERVICES",
        Copy(
            headline="Know at once when your card is used",
            teaser="Turn on instant card alerts in the app.",
            body="Get an instant notification for every card payment and block your card "
            "in one tap if something looks wrong.",
            sms="Turn on instant card alerts in the app and block your card in one tap if "
            "something looks wrong.",
            call_to_action="Turn on alerts",
            talking_points=(
                "Instant notification for every card payment",
                "Block and unblock the card in one tap",
            ),
        ),
        kind=OfferKind.SERVICE,
        eligibility_rule="attributes.digital_active == true",
        cooldown_days=30,
        value=Decimal("10.00"),
    ),
)

OFFERS_BY_CODE: Mapping[str, OfferDef] = MappingProxyType({o.code: o for o in OFFERS})


def _sms(copy: Copy, product: ProductDef) -> ContentDef:
    """One SMS: what the gateway sends (body, call to action, disclosure) must be one
    GSM-7 message, measured the way compliance's pre-check measures it."""
    body = f"{BANK_NAME}: {copy.sms} {SMS_OPT_OUT}"
    disclosure = product.sms_disclosure
    encoding, length, limit = sms_length(sms_text(body=body, disclosure=disclosure))
    if encoding != "gsm7" or length > limit:
        raise ValueError(f"SMS is {length} {encoding} characters (max {limit}): {body!r}")
    return ContentDef(Channel.SMS, copy.headline, body, "", disclosure)


def _script(kind: str, copy: Copy) -> str:
    points = " ".join(f"({n}) {point}." for n, point in enumerate(copy.talking_points, 1))
    note = f" {copy.staff_note}" if copy.staff_note else ""
    if kind == OfferKind.SERVICE:
        return f"{copy.body} Points to cover: {points}{note}"
    return (
        f"{copy.body} Points to cover: {points} Ask whether the customer would like to "
        f"hear more before going into detail, and record the answer.{note}"
    )


def _email(kind: str, copy: Copy) -> str:
    points = "\n".join(f"- {point}" for point in copy.talking_points)
    footer = (
        f"You receive this e-mail as a {BANK_NAME} customer because it concerns your account."
        if kind == OfferKind.SERVICE
        else (
            f"You receive this e-mail because you agreed to hear about {BANK_NAME} products. "
            "You can unsubscribe at any time in the app under Settings, Privacy."
        )
    )
    return (
        f"Hello,\n\n{copy.body}\n\n{points}\n\n{copy.call_to_action} in the {BANK_NAME} app "
        f"or at bancoexemplo.example.\n\nKind regards,\n{BANK_NAME}\n\n{footer}"
    )


def channel_contents(offer: OfferDef) -> dict[str, ContentDef]:
    """The offer's content on every channel (the channel registry, ``core.channels``)."""
    product = PRODUCTS_BY_CODE[offer.product_code]
    copy = offer.copy
    disclosure = product.disclosure
    service = offer.kind == OfferKind.SERVICE
    script_cta = "Help the customer now" if service else "Start the conversation"
    contents = {
        Channel.MOBILE_APP: ContentDef(
            Channel.MOBILE_APP, copy.headline, copy.body, copy.call_to_action, disclosure
        ),
        Channel.WEB: ContentDef(
            Channel.WEB,
            copy.headline,
            f"{copy.body} {' '.join(f'{p}.' for p in copy.talking_points)}",
            copy.call_to_action,
            disclosure,
        ),
        Channel.BRANCH: ContentDef(
            Channel.BRANCH,
            f"Talk about: {copy.headline}",
            _script(offer.kind, copy),
            script_cta,
            disclosure,
        ),
        Channel.CONTACT_CENTER: ContentDef(
            Channel.CONTACT_CENTER,
            f"Mention: {copy.headline}",
            _script(offer.kind, copy),
            "Send the details by e-mail" if not service else script_cta,
            disclosure,
        ),
        Channel.ATM: ContentDef(
            Channel.ATM, copy.headline, copy.teaser, "Find out more in the app", disclosure
        ),
        Channel.PUSH: ContentDef(Channel.PUSH, copy.headline, copy.teaser, "Open", disclosure),
        Channel.SMS: _sms(copy, product),
        Channel.EMAIL: ContentDef(
            Channel.EMAIL, copy.headline, _email(offer.kind, copy), copy.call_to_action, disclosure
        ),
    }
    return {str(channel): content for channel, content in contents.items()}


def all_contents() -> dict[str, dict[str, ContentDef]]:
    """Content of every offer on every channel, checked once when called."""
    return {offer.code: channel_contents(offer) for offer in OFFERS}
