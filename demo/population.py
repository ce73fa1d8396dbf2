"""Synthetic customers, drawn in columns with NumPy.

Customers are drawn in fixed-size chunks, each from its own generator seeded with
``(seed, chunk index)``, so the same seed gives the same bank whatever the machine and
memory stays flat at a million customers. Everything is relative to the ``as_of`` date;
nothing reads the clock.

Profiles are correlated the way a retail bank's book is: salary peaks in the late
forties and is higher around Lisbon; income band follows salary; credit risk falls with
income; the young are digital, the old less so; mortgages go to 30-55 year-olds with good
incomes and come with home and life insurance; credit cards follow a domiciled salary;
the current account is nearly universal.
"""

from __future__ import annotations

import datetime
import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from customers.choices import IncomeBand, RiskBand
from demo.catalog import CORE_PRODUCTS, CURRENT_ACCOUNT, DEBIT_CARD, PRODUCTS

CHUNK_SIZE = 10_000
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = 30.4375

# region: (share of customers, time zone, branch codes)
REGIONS: dict[str, tuple[float, str, tuple[str, ...]]] = {
    "North": (0.32, "Europe/Lisbon", ("POR01", "POR02", "POR03", "BRG01", "GMR01", "VCT01")),
    "Centre": (0.21, "Europe/Lisbon", ("COI01", "AVR01", "VIS01", "LRA01", "CTB01")),
    "Lisbon": (0.30, "Europe/Lisbon", ("LIS01", "LIS02", "LIS03", "LIS04", "CSC01", "SET01")),
    "Alentejo": (0.06, "Europe/Lisbon", ("EVR01", "BJA01", "PTG01")),
    "Algarve": (0.05, "Europe/Lisbon", ("FAR01", "PTM01", "LGS01")),
    "Azores": (0.03, "Atlantic/Azores", ("PDL01", "AGH01")),
    "Madeira": (0.03, "Atlantic/Madeira", ("FNC01", "FNC02")),
}
REGION_SALARY_EFFECT = {
    "North": -0.05,
    "Centre": -0.06,
    "Lisbon": 0.18,
    "Alentejo": -0.10,
    "Algarve": -0.02,
    "Azores": -0.08,
    "Madeira": -0.06,
}
# Customers of a home branch who live abroad (emigrants): their own time zone.
ABROAD_SHARE = 0.015
ABROAD_TIME_ZONES = ("Europe/Paris", "Europe/Luxembourg", "Europe/London", "Europe/Zurich")

FEMALE_NAMES = (
    "Ana", "Maria", "Beatriz", "Inês", "Mariana", "Joana", "Sofia", "Catarina", "Rita",
    "Carolina", "Marta", "Teresa", "Helena", "Luísa", "Filipa", "Patrícia", "Sara",
    "Daniela", "Raquel", "Leonor", "Matilde", "Madalena", "Isabel", "Fernanda",
)  # fmt: skip
MALE_NAMES = (
    "João", "José", "António", "Francisco", "Manuel", "Pedro", "Tiago", "Rui", "Miguel",
    "Carlos", "Paulo", "Luís", "Nuno", "Ricardo", "Diogo", "Gonçalo", "Duarte", "Rodrigo",
    "Afonso", "Henrique", "Bruno", "Vasco", "Jorge", "Fernando",
)  # fmt: skip
SURNAMES = (
    "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
    "Jesus", "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves",
    "Almeida", "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira", "Correia", "Mendes",
    "Nunes", "Soares", "Vieira", "Monteiro", "Cardoso", "Rocha", "Neves", "Coelho",
    "Cruz", "Cunha", "Pires", "Ramos", "Reis", "Simões", "Antunes", "Matos",
)  # fmt: skip
MARITAL_STATUSES = ("single", "married", "divorced", "widowed")

# Monthly net salary bands (EUR) -> income band.
INCOME_THRESHOLDS: tuple[tuple[float, str], ...] = (
    (900.0, IncomeBand.LOW),
    (1900.0, IncomeBand.MIDDLE),
    (3800.0, IncomeBand.HIGH),
)

PRODUCT_FAMILY: Mapping[str, str] = {p.code: p.family for p in PRODUCTS}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


@dataclass(slots=True)
class Population:
    """One chunk of customers as columns; ``index`` is 0-based across the whole bank."""

    seed: int
    as_of: datetime.date
    index: np.ndarray
    gender: np.ndarray
    first_name: list[str]
    last_name: list[str]
    birth_date: list[datetime.date]
    age: np.ndarray
    customer_since: list[datetime.date]
    tenure_days: np.ndarray
    tenure_months: np.ndarray
    region: np.ndarray
    branch_code: np.ndarray
    time_zone: np.ndarray
    salary: np.ndarray  # monthly net, EUR
    salary_domiciled: np.ndarray
    income_band: np.ndarray
    risk_band: np.ndarray
    segment: np.ndarray
    balance: np.ndarray
    digital_active: np.ndarray
    car_owner: np.ndarray
    home_owner: np.ndarray
    children: np.ndarray
    mortgage_elsewhere: np.ndarray
    marital_status: np.ndarray
    has_email: np.ndarray
    has_phone: np.ndarray
    holdings: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.index)

    def customer_id(self, i: int) -> int:
        return int(self.index[i]) + 1

    def external_id(self, i: int) -> str:
        return f"C{int(self.index[i]) + 1:08d}"

    def email(self, i: int) -> str:
        first, last = _ascii(self.first_name[i]), _ascii(self.last_name[i])
        return f"{first}.{last}.{int(self.index[i]) + 1}@mail.example"

    def phone(self, i: int) -> str:
        # 7919 is prime to 10**8, so distinct customers get distinct numbers.
        return f"+3519{(int(self.index[i]) * 7919 + self.seed) % 10**8:08d}"

    def card_token(self, i: int, product_code: str) -> str:
        return f"tok_{_digest(self.seed, self.index[i], product_code)[:24]}"

    def device_id(self, i: int) -> str:
        return f"dev_{_digest(self.seed, self.index[i], 'device')[:32]}"

    def account_number(self, i: int) -> str:
        number = int(self.index[i]) + 1
        return f"PT50999900{number:013d}{(number * 97) % 89 + 10:02d}"

    def attributes(self, i: int) -> dict:
        values: dict = {
            "segment": str(self.segment[i]),
            "balance": int(self.balance[i]),
            "digital_active": bool(self.digital_active[i]),
            "car_owner": bool(self.car_owner[i]),
            "home_owner": bool(self.home_owner[i]),
            "children": int(self.children[i]),
            "mortgage_elsewhere": bool(self.mortgage_elsewhere[i]),
            "gender": str(self.gender[i]),
            "marital_status": str(self.marital_status[i]),
        }
        if self.salary_domiciled[i]:
            values["salary"] = int(self.salary[i])
        return values


def _dates(as_of: datetime.date, days_before: np.ndarray) -> list[datetime.date]:
    origin = np.datetime64(as_of, "D")
    return (origin - days_before.astype("timedelta64[D]")).tolist()


def _full_years(as_of: datetime.date, births: list[datetime.date]) -> np.ndarray:
    return np.fromiter(
        (as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day)) for b in births),
        dtype=np.int64,
        count=len(births),
    )


def draw_population(
    *, seed: int, chunk: int, start: int, size: int, as_of: datetime.date
) -> Population:
    """Customers ``start .. start + size - 1`` of the bank drawn from ``(seed, chunk)``."""
    rng = np.random.default_rng([seed, chunk])
    n = size
    index = np.arange(start, start + n, dtype=np.int64)

    gender = np.where(rng.random(n) < 0.52, "F", "M")
    female = gender == "F"
    first_pick = rng.integers(0, len(FEMALE_NAMES), n)
    first_name = [
        FEMALE_NAMES[k] if f else MALE_NAMES[k % len(MALE_NAMES)]
        for f, k in zip(female.tolist(), first_pick.tolist(), strict=True)
    ]
    surnames = rng.integers(0, len(SURNAMES), (n, 2))
    last_name = [f"{SURNAMES[a]} {SURNAMES[b]}" for a, b in surnames.tolist()]

    # Age 18-90, mode in the early thirties, long tail of retirees.
    age_years = 18.0 + rng.beta(2.0, 3.0, n) * 72.0
    birth_days = np.floor(age_years * DAYS_PER_YEAR).astype(np.int64) + rng.integers(0, 365, n)
    birth_days = np.minimum(birth_days, int(90.9 * DAYS_PER_YEAR))
    birth_date = _dates(as_of, birth_days)
    age = np.clip(_full_years(as_of, birth_date), 18, 90)

    # Tenure: a mean of about 8 years, never before the 18th birthday; ~3% joined this quarter.
    adult_days = (age - 18) * DAYS_PER_YEAR + 180
    tenure_days = np.minimum(rng.gamma(1.6, 5.0, n) * DAYS_PER_YEAR, adult_days)
    new_joiners = rng.random(n) < 0.03
    tenure_days = np.where(new_joiners, rng.integers(1, 90, n), tenure_days)
    tenure_days = np.maximum(tenure_days, 1).astype(np.int64)
    customer_since = _dates(as_of, tenure_days)
    tenure_months = np.floor(tenure_days / DAYS_PER_MONTH).astype(np.int64)

    names = list(REGIONS)
    shares = np.array([REGIONS[r][0] for r in names])
    region = np.array(names)[rng.choice(len(names), n, p=shares / shares.sum())]
    branch_pick = rng.random(n)
    branch_code = np.array(
        [
            REGIONS[r][2][int(u * len(REGIONS[r][2]))]
            for r, u in zip(region.tolist(), branch_pick.tolist(), strict=True)
        ]
    )
    time_zone = np.array([REGIONS[r][1] for r in region.tolist()], dtype=object)
    abroad = rng.random(n) < ABROAD_SHARE
    time_zone[abroad] = np.array(ABROAD_TIME_ZONES)[
        rng.integers(0, len(ABROAD_TIME_ZONES), abroad.sum())
    ]
    time_zone = time_zone.astype(str)

    retired = age >= 67
    region_effect = np.array([REGION_SALARY_EFFECT[r] for r in region.tolist()])
    log_salary = (
        np.log(1380.0)
        - 0.0006 * (age - 50.0) ** 2
        + region_effect
        - 0.30 * retired
        + rng.normal(0.0, 0.6, n)
    )
    salary = np.clip(np.round(np.exp(log_salary), -1), 450.0, 25_000.0)
    salary_domiciled = rng.random(n) < np.where(retired, 0.62, 0.74)
    income_band = np.full(n, IncomeBand.AFFLUENT.value, dtype=object)
    for threshold, band in reversed(INCOME_THRESHOLDS):
        income_band[salary < threshold] = band.value
    income_band = income_band.astype(str)

    risk_score = (
        rng.normal(0.0, 1.0, n)
        - 0.7 * np.log(salary / 1200.0)
        + 0.03 * np.maximum(0, 30 - age)
        + 0.35 * ~salary_domiciled
    )
    risk_band = np.where(
        risk_score < 0.1,
        RiskBand.LOW.value,
        np.where(risk_score < 1.5, RiskBand.MEDIUM.value, RiskBand.HIGH.value),
    )

    log_balance = np.log(salary) + 0.7 + 0.03 * (age - 40.0) + rng.normal(0.0, 1.1, n)
    balance = np.clip(np.round(np.exp(log_balance)), 0, 2_000_000)

    digital_active = rng.random(n) < sigmoid(2.6 - 0.065 * (age - 30.0))
    working_age = (age >= 25) & (age <= 75)
    car_owner = rng.random(n) < sigmoid(-0.4 + 0.7 * np.log(salary / 1200.0) + 0.9 * working_age)
    home_owner = rng.random(n) < sigmoid(
        -2.6 + 0.065 * (age - 20.0) + 0.6 * np.log(salary / 1200.0)
    )
    parenting_age = (age >= 27) & (age <= 58)
    children = np.where(parenting_age, np.minimum(rng.poisson(0.9, n), 4), 0)
    mortgage_elsewhere = home_owner & (age <= 65) & (rng.random(n) < 0.25)

    marital_pick = rng.random(n)
    married_p = np.clip(0.1 + 0.012 * (age - 20), 0.1, 0.65)
    widowed_p = np.clip(0.006 * (age - 60), 0.0, 0.3)
    marital_status = np.where(
        marital_pick < married_p,
        "married",
        np.where(
            marital_pick < married_p + widowed_p,
            "widowed",
            np.where(marital_pick < married_p + widowed_p + 0.08, "divorced", "single"),
        ),
    )

    segment = np.full(n, "mass", dtype=object)
    segment[age >= 67] = "senior"
    segment[age < 26] = "youth"
    segment[np.isin(income_band, [IncomeBand.HIGH, IncomeBand.AFFLUENT])] = "premier"
    segment[(income_band == IncomeBand.AFFLUENT) & (balance >= 100_000)] = "private"
    segment = segment.astype(str)

    has_email = rng.random(n) < sigmoid(3.2 - 0.06 * (age - 40.0))
    has_phone = rng.random(n) < 0.97

    population = Population(
        seed=seed,
        as_of=as_of,
        index=index,
        gender=gender,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        age=age,
        customer_since=customer_since,
        tenure_days=tenure_days,
        tenure_months=tenure_months,
        region=region,
        branch_code=branch_code,
        time_zone=time_zone,
        salary=salary,
        salary_domiciled=salary_domiciled,
        income_band=income_band,
        risk_band=risk_band,
        segment=segment,
        balance=balance,
        digital_active=digital_active,
        car_owner=car_owner,
        home_owner=home_owner,
        children=children,
        mortgage_elsewhere=mortgage_elsewhere,
        marital_status=marital_status,
        has_email=has_email,
        has_phone=has_phone,
    )
    population.holdings = draw_holdings(population, rng)
    return population


def draw_holdings(pop: Population, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Which products each customer holds, drawn with the book's correlations."""
    n = pop.size
    age = pop.age.astype(np.float64)
    log_salary = np.log(pop.salary / 1200.0)
    log_balance = np.log1p(pop.balance) - np.log(5000.0)
    high = np.isin(pop.income_band, [IncomeBand.HIGH, IncomeBand.AFFLUENT])
    affluent = pop.income_band == IncomeBand.AFFLUENT
    risky = pop.risk_band == RiskBand.HIGH
    salaried = pop.salary_domiciled
    prime_age = (age >= 30) & (age <= 55)
    new = pop.tenure_days < 30

    def draw(logit: np.ndarray | float) -> np.ndarray:
        return rng.random(n) < sigmoid(np.broadcast_to(logit, (n,)))

    held: dict[str, np.ndarray] = {}
    held[CURRENT_ACCOUNT] = rng.random(n) < 0.97
    held[DEBIT_CARD] = held[CURRENT_ACCOUNT] & (rng.random(n) < np.where(new, 0.55, 0.9))

    gold = draw(-4.0 + 2.0 * high + 0.8 * affluent - 1.5 * risky + 0.6 * salaried)
    classic = draw(-1.9 + 1.3 * salaried + 0.5 * log_salary - 1.0 * risky - 0.02 * (age - 45))
    held["GOLD_CARD"] = gold
    held["CLASSIC_CARD"] = classic & ~gold
    held["FUEL_CARD"] = pop.car_owner & draw(-2.6 + 0.4 * log_salary - 0.8 * risky)
    held["TRAVEL_CARD"] = draw(-3.6 + 1.0 * pop.digital_active + 0.5 * high - 0.02 * (age - 35))

    held["PERSONAL_LOAN"] = draw(-2.3 + 0.6 * ((age >= 25) & (age <= 55)) + 0.3 * salaried)
    held["CAR_LOAN"] = pop.car_owner & draw(-2.4 + 0.3 * log_salary)
    held["OVERDRAFT"] = draw(-2.6 + 0.7 * salaried + 0.4 * risky)

    mortgage = draw(-3.4 + 1.8 * prime_age + 0.9 * log_salary + 1.1 * pop.home_owner - 0.8 * risky)
    variable = rng.random(n) < 0.7
    held["MORTGAGE_VARIABLE"] = mortgage & variable
    held["MORTGAGE_FIXED"] = mortgage & ~variable

    held["SAVINGS_ACCOUNT"] = draw(-1.0 + 0.35 * log_balance + 0.2 * pop.digital_active)
    held["TERM_DEPOSIT"] = draw(-2.6 + 0.03 * (age - 50) + 0.45 * log_balance)
    held["JUNIOR_SAVINGS"] = (pop.children > 0) & draw(-1.8 + 0.4 * high)

    held["HOME_INSURANCE"] = draw(np.where(mortgage, 1.4, -1.6 + 1.0 * pop.home_owner) - 0.8)
    held["LIFE_INSURANCE"] = draw(np.where(mortgage, 0.6, -2.9 + 0.3 * (pop.children > 0)))
    held["TRAVEL_INSURANCE"] = draw(-3.5 + 0.6 * high + 0.8 * held["TRAVEL_CARD"])

    held["INVESTMENT_FUNDS"] = draw(-3.6 + 1.3 * high + 1.5 * affluent + 0.3 * log_balance)
    held["PENSION_PLAN"] = ((age >= 28) & (age <= 64)) & draw(-2.2 + 0.6 * log_salary)
    held["BROKERAGE_ACCOUNT"] = pop.digital_active & draw(-4.2 + 1.2 * high - 0.02 * (age - 35))

    # New joiners hold the basics only.
    for code in list(held):
        if code not in CORE_PRODUCTS:
            held[code] = held[code] & ~new
    return held


def held_families(pop: Population) -> dict[str, np.ndarray]:
    families: dict[str, np.ndarray] = {}
    for code, mask in pop.holdings.items():
        family = PRODUCT_FAMILY.get(code)
        if family is not None:
            families[family] = families.get(family, np.zeros(pop.size, dtype=bool)) | mask
    return families
