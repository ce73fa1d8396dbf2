"""Every reader of the contact policy reads the one in force (``active_contact_policy``)."""

from __future__ import annotations

import datetime

import pytest

from campaigns.models import ContactPolicy
from campaigns.selectors import active_contact_policy, contact_policy_approval
from campaigns.services import contact_policy_update
from compliance.models import SuppressionEntry
from compliance.services import approval_approve
from decisioning.decisions.snapshots import build, policy_spec, snapshots
from decisioning.feedback.responses import response_record
from decisioning.outbound.gate import gate_state
from tests.decisioning.catalog import small_bank
from tests.factories import CustomerFactory, persona

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


def change_policy():
    """A change proposed by a marketer and approved by a compliance officer: in force."""
    proposal = contact_policy_update(
        actor=persona("policy-maker", "marketer"),
        data={
            "decline_cooldown_days": 9,
            "quiet_channels": ["email"],
            "quiet_start": datetime.time(20, 0),
            "quiet_end": datetime.time(9, 30),
            "daily_cap": 2,
            "weekly_cap": 4,
        },
    )
    approval_approve(
        actor_user=persona("policy-checker", "compliance"),
        request=contact_policy_approval(proposal),
    )


def remove_policy():
    ContactPolicy.objects.all().delete()


@pytest.fixture
def bank():
    return small_bank()


def observed(bank, response_id: str) -> dict:
    """What the snapshot, the pre-send gate and a response each take the policy to be."""
    engine = build(NOW).engine.policy
    gate = gate_state([], now=NOW)
    customer = CustomerFactory()
    response_record(
        actor="api:test",
        response_id=response_id,
        offer_code=bank.fuel_card.code,
        outcome="decline",
        occurred_at=NOW,
        channel="sms",
        customer_ref={"external_id": customer.external_id},
        now=NOW,
    )
    until = SuppressionEntry.objects.get(customer=customer, scope="product").until
    return {
        "snapshot": engine,
        "gate": (
            gate.loaded.engine.policy.decline_cooldown_days,
            gate.loaded.engine.policy.quiet_channels,
            gate.loaded.engine.policy.quiet_start,
            gate.loaded.engine.policy.quiet_end,
        ),
        "responses": (until - NOW).days,
    }


@pytest.mark.parametrize(
    "arrange", [lambda: None, change_policy, remove_policy], ids=["baseline", "changed", "none"]
)
def test_snapshot_gate_and_responses_read_the_same_policy(bank, arrange):
    arrange()
    policy = active_contact_policy()
    seen = observed(bank, "R-1")
    assert seen["snapshot"] == policy_spec(policy)
    assert seen["gate"] == (
        policy.decline_cooldown_days,
        frozenset(policy.quiet_channels),
        policy.quiet_start,
        policy.quiet_end,
    )
    assert seen["responses"] == policy.decline_cooldown_days


def test_a_policy_change_reaches_every_reader(bank):
    before = observed(bank, "R-1")
    change_policy()
    after = observed(bank, "R-2")
    assert after["snapshot"].version == before["snapshot"].version + 1
    assert (after["snapshot"].daily_cap, after["snapshot"].weekly_cap) == (2, 4)
    assert after["snapshot"].quiet_channels == frozenset({"email"})
    assert after["gate"] == (9, frozenset({"email"}), datetime.time(20, 0), datetime.time(9, 30))
    assert (before["responses"], after["responses"]) == (30, 9)
