"""The hash that names one exact version of an offer's words on one channel.

An approval covers (subject id, version, content hash); the pre-send gate and the engine
snapshot recompute the hash to prove the text released is the text approved. Every
writer of ``OfferContent.content_hash`` (the offers services, the demo seeder) calls
this one function.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from core.json import canonical_json

if TYPE_CHECKING:
    from offers.models import OfferContent

HASHED_FIELDS: tuple[str, ...] = (
    "offer_code",
    "channel",
    "version",
    "headline",
    "body",
    "call_to_action",
    "disclosure",
)


def content_hash(
    *,
    offer_code: str,
    channel: str,
    version: int,
    headline: str,
    body: str,
    call_to_action: str,
    disclosure: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of the content's identity and words."""
    payload = {
        "offer_code": offer_code,
        "channel": channel,
        "version": int(version),
        "headline": headline,
        "body": body,
        "call_to_action": call_to_action,
        "disclosure": disclosure,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def content_hash_of(content: OfferContent, *, offer_code: str | None = None) -> str:
    """The hash of a content row (pass ``offer_code`` to avoid loading the offer)."""
    return content_hash(
        offer_code=offer_code if offer_code is not None else content.offer.code,
        channel=content.channel,
        version=content.version,
        headline=content.headline,
        body=content.body,
        call_to_action=content.call_to_action,
        disclosure=content.disclosure,
    )
