"""Fixtures for the compliance tests: personas, the rule parser, the ledger baseline."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db.models import Max

from compliance.prechecks import register_rule_parser
from ledger.hashing import ZERO_HASH
from ledger.models import AuditRecord, AuditSeal
from ledger.sealer import seal_all_pending
from tests.factories import persona


@dataclass(frozen=True)
class LedgerBaseline:
    """Where the ledger stood when the test began."""

    seq: int
    seal_seq: int
    seal_hash: str

    def records(self):
        return AuditRecord.objects.filter(seq__gt=self.seq)

    def seals(self):
        return AuditSeal.objects.filter(seq__gt=self.seal_seq)


@pytest.fixture(autouse=True)
def ledger_baseline(request) -> LedgerBaseline | None:
    """The ledger is never flushed (``crosssell``'s flush keeps it), so transactional
    tests that ran earlier may have left records. Seal them, and tell the test where it
    starts, so its assertions see only its own records."""
    if request.node.get_closest_marker("django_db") is None:
        return None
    request.getfixturevalue("db")
    seal_all_pending(time_budget_seconds=60)
    last_seal = AuditSeal.objects.order_by("-seq").first()
    return LedgerBaseline(
        seq=AuditRecord.objects.aggregate(high=Max("seq"))["high"] or 0,
        seal_seq=last_seal.seq if last_seal else 0,
        seal_hash=last_seal.seal_hash if last_seal else ZERO_HASH,
    )


@pytest.fixture
def maker(db):
    return persona("maker", "marketer")


@pytest.fixture
def checker(db):
    return persona("checker", "compliance")


@pytest.fixture
def outsider(db):
    return persona("outsider")


@pytest.fixture
def engine_rules():
    """Validate rules with the engine's parser (what the running app plugs in)."""
    from decisioning.engine.rules import parse_rule

    previous = register_rule_parser(parse_rule)
    yield parse_rule
    register_rule_parser(previous)


@pytest.fixture
def fallback_rules():
    """Validate rules with the compliance layer's own tokenizer (no engine plugged in)."""
    previous = register_rule_parser(None)
    yield
    register_rule_parser(previous)
