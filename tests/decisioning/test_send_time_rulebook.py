"""Property: nothing is handed out that a fresh decision at that moment would refuse.

Hypothesis drives random sequences of queued messages, events (hardship and not),
responses, consent changes, do-not-contact, time passing and leases against a small bank.
After every lease, each message handed out is re-decided from scratch by ``engine.decide``
(not by the gate's send-time recheck) over the history as it stands at the lease's moment; it must pass
every candidate rule and every rule of its channel, outside quiet hours. And each message
the gate cancelled for a rule must be one the fresh decision refuses too.
"""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Event, IdentityLink
from decisioning import engine
from decisioning.decisions.snapshots import current_snapshot, snapshots
from decisioning.engine.sendtime import SEND_TIME_REASONS
from decisioning.feedback.responses import response_record
from decisioning.models import Message
from decisioning.outbound.gate import send_contexts
from decisioning.outbound.lease import messages_lease
from decisioning.rights.consent import consent_change, do_not_contact_change
from tests.api.outbound import queue_message
from tests.decisioning.catalog import SmallBank, small_bank
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

# Far enough back that the longest sequence (30 steps of at most 10 days) stays in the past:
# consents refuse a capture time in the future.
START = timezone.now().replace(second=0, microsecond=0) - datetime.timedelta(days=400)
CHANNELS = ("push", "sms", "email")
CUSTOMERS = 3
# Gate reasons outside the engine's rulebook: the message's words, or its address.
NOT_RULES = frozenset({"content_not_approved", "no_contact", "owed_inbound"})

customer_index = st.integers(0, CUSTOMERS - 1)
queue = st.tuples(
    st.just("queue"), customer_index, st.sampled_from(("fuel", "help")), st.sampled_from(CHANNELS)
)
lease = st.tuples(st.just("lease"), st.sampled_from(CHANNELS))
operation = st.one_of(
    queue,
    queue,
    lease,
    lease,
    st.tuples(
        st.just("event"),
        customer_index,
        st.sampled_from(("payment_failed", "salary_deposit", "large_transfer_out")),
    ),
    st.tuples(st.just("respond"), customer_index, st.sampled_from(("decline", "accept", "click"))),
    st.tuples(
        st.just("consent"),
        customer_index,
        st.sampled_from((*CHANNELS, "all")),
        st.sampled_from(("granted", "revoked")),
    ),
    st.tuples(st.just("dnc"), customer_index),
    st.tuples(st.just("time"), st.integers(1, 24 * 10)),
)


class World:
    def __init__(self, bank: SmallBank) -> None:
        self.bank = bank
        self.now = START
        self.ids = itertools.count(1)
        self.customers = []
        for index in range(CUSTOMERS):
            person = CustomerFactory(phone="" if index == 2 else "+351910000000")
            for channel in CHANNELS:
                ConsentFactory(customer=person, channel=channel, captured_at=START)
            if index != 1:
                IdentityLink.objects.create(customer=person, type="device_id", value=f"dev-{index}")
            self.customers.append(person)

    def queue(self, index: int, which: str, channel: str) -> None:
        customer = self.customers[index]
        offer, campaign = (
            (self.bank.fuel_card, self.bank.fuel_campaign)
            if which == "fuel"
            else (self.bank.payment_help, self.bank.hardship_campaign)
        )
        if Message.objects.filter(customer=customer, offer=offer, channel=channel).exists():
            return
        queue_message(
            customer, offer, campaign, channel=channel, deliver_after=self.now, now=self.now
        )

    def event(self, index: int, event_type: str) -> None:
        Event.objects.create(
            event_id=f"E-{next(self.ids)}",
            type=event_type,
            occurred_at=self.now,
            customer=self.customers[index],
            status="processed",
            body_hash="x",
        )

    def respond(self, index: int, outcome: str) -> None:
        message = (
            Message.objects.filter(
                customer=self.customers[index], status__in=("leased", "delivered")
            )
            .order_by("-created_at")
            .first()
        )
        if message is None:
            return
        response_record(
            actor="api:test",
            response_id=f"R-{next(self.ids)}",
            offer_code=message.offer.code,
            outcome=outcome,
            occurred_at=self.now,
            channel=message.channel,
            message_id=message.pk,
            now=self.now,
        )

    def consent(self, index: int, channel: str, status: str) -> None:
        consent_change(
            actor="api:test",
            customer=self.customers[index],
            channel=channel,
            status=status,
            source="test",
            captured_at=self.now,
        )

    def dnc(self, index: int) -> None:
        do_not_contact_change(actor="api:test", customer=self.customers[index], reason="test")

    def lease(self, channel: str) -> None:
        before = dict(
            Message.objects.filter(channel=channel, status="queued").values_list("pk", "status")
        )
        result = messages_lease(actor="api:test", channel=channel, max_messages=50, now=self.now)
        for leased in result.leased:
            refused = fresh_refusal(leased.message, self.now)
            assert refused is None, (
                f"{leased.message.offer.code} on {channel} handed out at {self.now}, "
                f"but a fresh decision refuses it: {refused}"
            )
        for message in Message.objects.filter(
            pk__in=list(before), status="cancelled"
        ).select_related("customer", "offer", "decision"):
            if message.cancel_reason in NOT_RULES:
                continue
            assert fresh_refusal(message, self.now) is not None, (
                f"{message.offer.code} on {channel} cancelled {message.cancel_reason} at "
                f"{self.now}, but a fresh decision would release it"
            )


def fresh_refusal(message: Message, now: datetime.datetime) -> str | None:
    """Why a fresh decision at ``now`` would not release this message, or None."""
    message.customer = type(message.customer).objects.get(pk=message.customer_id)
    loaded = current_snapshot(now)
    # the gate's view of the history (without the message's own decision, nor messages
    # queued behind it); the rules applied to it are decide()'s, not the gate's
    context = send_contexts([message], loaded, now)[message.pk]
    request = engine.DecisionRequest(
        mode="batch", now=now, campaign_ids=frozenset({message.campaign_id})
    )
    decided = engine.decide(loaded.engine, context, request)
    for candidate in decided.candidates:
        if candidate.offer_code != message.offer.code:
            continue
        failed = [
            v.rule for v in candidate.verdicts if not v.passed and v.rule != engine.VOLUME_LIMIT
        ]
        if failed:
            return failed[0]
        trace = next((t for t in candidate.channels if t.channel == message.channel), None)
        if trace is None:
            return "channel_not_traced"
        if not trace.passed:
            return next(v.rule for v in trace.verdicts if not v.passed)
        return engine.QUIET_HOURS if trace.deliver_after is not None else None
    return "not_a_candidate"


@pytest.fixture
def bank(db):
    return small_bank()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operation, min_size=4, max_size=30))
def test_no_message_is_handed_out_that_a_fresh_decision_would_refuse(bank, steps):
    snapshots.clear()
    with transaction.atomic():
        world = World(bank)
        for name, *args in steps:
            if name == "time":
                world.now += datetime.timedelta(hours=args[0])
            else:
                getattr(world, name)(*args)
        for channel in CHANNELS:  # every sequence ends with a lease of what is left
            world.lease(channel)
        transaction.set_rollback(True)
    snapshots.clear()


def test_send_time_reasons_are_not_stage_codes():
    assert not SEND_TIME_REASONS & set(engine.STAGES)
