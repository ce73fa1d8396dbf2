"""Seed the demo bank into an empty database: catalog, campaigns, people, customers,
consents and a response history, in one transaction.

Same ``seed`` and ``as_of``, same rows (apart from the stamps saying when seeding ran,
user password hashes and API keys).
"""

from __future__ import annotations

import datetime
import time
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from compliance.versioning import bump_catalog_version
from core.actors import system_actor
from core.exceptions import Conflict, ValidationFailed
from customers.models import Customer
from demo.catalog import BANK_NAME
from demo.columns import PopulationColumns
from demo.consents import draw_consents
from demo.history import draw_history
from demo.install import install_campaigns, install_catalog
from demo.people import CHECKER, MAKER, ensure_channel_clients, ensure_demo_users
from demo.population import CHUNK_SIZE, draw_population
from demo.progress import Stream, progress_bar
from demo.rows import RowContext, chunk_tables
from demo.writer import reset_sequences, writer_for_connection
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.services import audit_many, build_record
from offers.models import Product

SEED_ACTOR = system_actor("seed_demo")
DEFAULT_CUSTOMERS = 10_000
DEFAULT_SEED = 42
MAX_CUSTOMERS = 10_000_000


class BankNotEmpty(Conflict):
    code = "bank_not_empty"


@dataclass(frozen=True, slots=True)
class SeedOptions:
    customers: int = DEFAULT_CUSTOMERS
    seed: int = DEFAULT_SEED
    as_of: datetime.date = field(default_factory=lambda: bank_today())

    def validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if not 1 <= self.customers <= MAX_CUSTOMERS:
            errors["customers"] = [f"must be between 1 and {MAX_CUSTOMERS:,}"]
        if self.seed < 0:
            errors["seed"] = ["must be zero or more"]
        if errors:
            raise ValidationFailed("The seeding options are not valid.", fields=errors)


@dataclass(slots=True)
class SeedResult:
    options: SeedOptions
    rows: Counter[str]
    api_keys: dict[str, str]
    users_created: tuple[str, ...]
    seconds: float


def bank_today() -> datetime.date:
    return timezone.now().astimezone(ZoneInfo(settings.BANK_TIME_ZONE)).date()


def bank_midnight_utc(as_of: datetime.date) -> datetime.datetime:
    local = datetime.datetime.combine(as_of, datetime.time(0), ZoneInfo(settings.BANK_TIME_ZONE))
    return local.astimezone(datetime.UTC)


def ensure_empty() -> None:
    customers = Customer.objects.count()
    if customers:
        raise BankNotEmpty(
            f"The database already has {customers:,} customers; seed_demo only seeds an empty "
            "bank. Use a fresh database (a new DATABASE_URL, or remove the SQLite file)."
        )
    if Product.objects.exists():
        raise BankNotEmpty(
            "The database already has a product catalog; seed_demo only seeds an empty bank."
        )


def seed_demo_bank(options: SeedOptions, *, progress: Stream | None = None) -> SeedResult:
    """Seed everything in one transaction; ``progress`` receives a progress bar."""
    options.validate()
    started = time.monotonic()
    now = timezone.now()
    midnight = bank_midnight_utc(options.as_of)
    rows: Counter[str] = Counter()
    with transaction.atomic():
        ensure_empty()
        people = ensure_demo_users(actor=SEED_ACTOR)
        maker, checker = people.users[MAKER], people.users[CHECKER]
        catalog = install_catalog(
            actor=SEED_ACTOR, maker=maker, checker=checker, as_of_midnight=midnight, now=now
        )
        campaign_audit = install_campaigns(
            actor=SEED_ACTOR,
            maker=maker,
            checker=checker,
            offer_ids=catalog.offer_ids,
            as_of_midnight=midnight,
            now=now,
        )
        api_keys = ensure_channel_clients(actor=SEED_ACTOR)
        context = RowContext(
            offer_ids=catalog.offer_ids, now=now, as_of_midnight_utc=midnight, actor=SEED_ACTOR
        )
        seed_customers(options, context, rows, progress)
        audit_many(
            people.audit
            + catalog.audit
            + campaign_audit
            + [import_record(options, rows, name) for name in IMPORT_AUDIT]
        )
        bump_catalog_version()
    analyze_tables()
    return SeedResult(
        options=options,
        rows=rows,
        api_keys=api_keys,
        users_created=people.created,
        seconds=time.monotonic() - started,
    )


def seed_customers(
    options: SeedOptions, context: RowContext, rows: Counter[str], progress: Stream | None
) -> None:
    writer = writer_for_connection()
    check_constraints_as_we_go()
    with progress_bar(options.customers, "Seeding customers", progress, unit="customers") as bar:
        for chunk, start in enumerate(range(0, options.customers, CHUNK_SIZE)):
            size = min(CHUNK_SIZE, options.customers - start)
            pop = draw_population(
                seed=options.seed, chunk=chunk, start=start, size=size, as_of=options.as_of
            )
            rng = np.random.default_rng([options.seed, chunk, 1])
            columns = PopulationColumns(pop)
            consents = draw_consents(pop, rng)
            history = draw_history(columns, consents, rng)
            for table in chunk_tables(pop, consents, history, rng, context):
                rows[table.model._meta.label] += writer.write(table.model, table.fields, table.rows)
            bar.update(size)
    reset_sequences(Customer)


def analyze_tables() -> None:
    """Give PostgreSQL's planner statistics for the rows just loaded.

    Autovacuum would gather them within minutes; until then the planner guesses, and a
    decision's context query can pick a plan a hundred times slower than the indexed one.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def check_constraints_as_we_go() -> None:
    """Check deferred foreign keys row by row during the load, not all at COMMIT.

    PostgreSQL would otherwise queue one check per row and run them all when the
    transaction commits: minutes of silence after the progress bar reached 100%.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


# Bulk imports are audited as one record per table, naming counts (never PII).
IMPORT_AUDIT: dict[str, tuple[str, str]] = {
    "customers.Customer": (AuditKind.CUSTOMER, "customers_imported"),
    "customers.Holding": (AuditKind.CUSTOMER, "holdings_imported"),
    "customers.IdentityLink": (AuditKind.CUSTOMER, "identity_links_imported"),
    "compliance.Consent": (AuditKind.CONSENT, "consents_imported"),
    "compliance.DoNotContact": (AuditKind.SUPPRESSION, "do_not_contact_imported"),
    "decisioning.Response": (AuditKind.RESPONSE, "response_history_imported"),
}


def import_record(options: SeedOptions, rows: Counter[str], label: str) -> AuditRecord:
    kind, action = IMPORT_AUDIT[label]
    return build_record(
        kind=kind,
        action=action,
        actor=SEED_ACTOR,
        object_type=label,
        object_repr=f"{BANK_NAME} demo ({rows[label]:,} rows)",
        data={
            "rows": rows[label],
            "customers": options.customers,
            "seed": options.seed,
            "as_of": options.as_of.isoformat(),
        },
    )
