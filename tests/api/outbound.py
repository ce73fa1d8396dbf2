"""Queued messages for the outbound tests, as a decision would have stored them."""

from __future__ import annotations

import datetime

from django.utils import timezone

from decisioning.models import Contact, Decision, Message


def queue_message(
    customer,
    offer,
    campaign,
    *,
    channel="sms",
    status="queued",
    deliver_after=None,
    lease_expires_at=None,
    now=None,
):
    now = now or timezone.now()
    decision = Decision.objects.create(
        customer=customer,
        mode="event",
        created_at=now,
        campaign=campaign,
        snapshot_version="catalog-test",
        policy_version=1,
        offers=[{"offer_code": offer.code, "channel": channel}],
        explanation={
            "policy_version": 1,
            "offers": [
                {
                    "offer_code": offer.code,
                    "channel": channel,
                    "score": 9.0,
                    "score_factors": {
                        "propensity": 0.05,
                        "value": 180.0,
                        "lever": 1.0,
                        "context_weight": 1.0,
                        "model_version": "7",
                    },
                    "reasons": ["because"],
                }
            ],
        },
    )
    message = Message.objects.create(
        decision=decision,
        customer=customer,
        campaign=campaign,
        offer=offer,
        content=offer.contents.get(channel=channel, version=1),
        channel=channel,
        status=status,
        deliver_after=deliver_after or now - datetime.timedelta(minutes=1),
        lease_expires_at=lease_expires_at,
        created_at=now,
    )
    Contact.objects.create(
        customer=customer,
        decision=decision,
        message=message,
        campaign=campaign,
        offer=offer,
        product_code=offer.product.code,
        family=offer.product.family,
        kind=offer.kind,
        channel=channel,
        released_at=now,
    )
    return message
