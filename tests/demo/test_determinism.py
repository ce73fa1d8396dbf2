"""Same seed and as-of date, same bank; another seed, another bank."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import models, transaction

from campaigns.models import Campaign, CampaignOffer
from compliance.models import ApprovalRequest, Consent, DoNotContact
from core.models import ApiClient
from customers.models import Customer, Holding, IdentityLink
from decisioning.models import Response
from demo.seed import SeedOptions, seed_demo_bank
from ledger.models import AuditRecord
from offers.models import Offer, OfferContent, Product
from tests.demo.conftest import AS_OF

pytestmark = pytest.mark.django_db

SNAPSHOT_MODELS: tuple[type[models.Model], ...] = (
    Product,
    Offer,
    OfferContent,
    Campaign,
    CampaignOffer,
    ApprovalRequest,
    Customer,
    Holding,
    IdentityLink,
    Consent,
    DoNotContact,
    Response,
    AuditRecord,
    User,
    ApiClient,
)
# Stamps of when seeding ran, secrets, and ids that only say in which order rows landed.
VOLATILE = {
    "password",
    "last_login",
    "date_joined",
    "key_hash",
    "key_prefix",
    "record_hash",
    "decided_at",
    "subject_id",
    "object_id",
}


# Audit data that names random keys or hashes over database ids.
ID_DERIVED_DATA = {"key_prefix", "content_hash"}


def _comparable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _targeting_hash_field(obj: models.Model, field: models.Field) -> bool:
    """The targeting hash and payload cover campaign and offer ids (campaigns.selectors)."""
    return (
        isinstance(obj, ApprovalRequest)
        and obj.subject_type == "campaign_targeting"
        and field.name in ("content_hash", "snapshot")
    )


def _kept(field: models.Field) -> bool:
    if field.primary_key or field.name in VOLATILE:
        return False
    return not (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def snapshot_rows(model: type[models.Model]) -> list[tuple]:
    """Every row as a tuple of its stable values; foreign keys by natural key (``str``)."""
    fields = [f for f in model._meta.concrete_fields if _kept(f)]
    if model is AuditRecord:
        fields = [f for f in fields if f.name != "created_at"]
    relations = [f.name for f in fields if f.is_relation]
    rows = []
    for obj in model._default_manager.select_related(*relations):
        row = []
        for field in fields:
            value = getattr(obj, field.name)
            if field.is_relation:
                value = None if value is None else str(value)
            elif model is AuditRecord and field.name == "data":
                value = {k: v for k, v in value.items() if k not in ID_DERIVED_DATA}
            elif _targeting_hash_field(obj, field):
                value = None
            row.append(_comparable(value))
        rows.append(tuple(row))
    return sorted(rows, key=repr)


def seed_and_snapshot(seed: int) -> dict[str, list[tuple]]:
    with transaction.atomic():
        seed_demo_bank(SeedOptions(customers=150, seed=seed, as_of=AS_OF))
        snapshot = {model._meta.label: snapshot_rows(model) for model in SNAPSHOT_MODELS}
        transaction.set_rollback(True)
    return snapshot


def test_same_seed_and_date_give_the_same_rows_and_another_seed_does_not():
    first = seed_and_snapshot(11)
    again = seed_and_snapshot(11)
    other = seed_and_snapshot(12)

    assert first.keys() == again.keys()
    for label, rows in first.items():
        assert rows, f"{label} was not seeded"
        assert rows == again[label], f"{label} differs between two seeds with the same seed"
    for label in ("customers.Customer", "customers.Holding", "decisioning.Response"):
        assert first[label] != other[label], f"{label} is the same for another seed"
    # The catalog is the bank's, not the seed's.
    assert first["offers.OfferContent"] == other["offers.OfferContent"]
