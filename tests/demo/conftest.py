"""One seeded demo bank shared by the tests of a module, rolled back afterwards."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction

from demo.seed import SeedOptions, SeedResult, seed_demo_bank

AS_OF = datetime.date(2025, 6, 1)
SHARED_CUSTOMERS = 3_000
SHARED_SEED = 7


@pytest.fixture(scope="module")
def seeded_bank(django_db_setup, django_db_blocker) -> SeedResult:
    """A 3,000-customer bank seeded once per module inside a transaction that is undone.

    Tests using it are marked ``django_db``; each runs in a savepoint of this transaction.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed_demo_bank(SeedOptions(customers=SHARED_CUSTOMERS, seed=SHARED_SEED, as_of=AS_OF))
        transaction.set_rollback(True)
