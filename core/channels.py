"""The channel registry: every fact about a channel, in one place.

Pure Python (no Django), so the engine reads it too. Model choices, the engine's channel
sets, the pre-send gate's contact fields and quiet hours, the API's enums and the
console's pickers all derive from ``CHANNELS``. Adding a channel is one entry here; then
``makemigrations`` regenerates the choices and check constraints that list channels
(generated, not written), and the demo bank gives it content (``demo/catalog.py``).
docs/ARCHITECTURE.md has the checklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "inbound"  # the customer is present: decided synchronously, offers returned
    OUTBOUND = "outbound"  # a message is queued and leased by the channel's gateway


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    code: str
    label: str
    direction: Direction
    # Outbound only: the customer field the gateway delivers to (``phone``, ``email`` or
    # ``device_id``, the last answered by identity links).
    contact_field: str | None = None
    # Marketing here keeps the contact policy's quiet hours by default.
    quiet_hours: bool = False
    # Marketing needs an explicit grant (outbound) rather than the absence of a revoke.
    needs_explicit_consent: bool = False
    # A person (banker, agent) presents the offer and may override it.
    human: bool = False

    @property
    def inbound(self) -> bool:
        return self.direction is Direction.INBOUND

    @property
    def outbound(self) -> bool:
        return self.direction is Direction.OUTBOUND


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("mobile_app", "Mobile app", Direction.INBOUND),
    ChannelSpec("web", "Web", Direction.INBOUND),
    ChannelSpec("branch", "Branch banker", Direction.INBOUND, human=True),
    ChannelSpec("contact_center", "Contact center", Direction.INBOUND, human=True),
    ChannelSpec("atm", "ATM", Direction.INBOUND),
    ChannelSpec(
        "push",
        "Push",
        Direction.OUTBOUND,
        contact_field="device_id",
        quiet_hours=True,
        needs_explicit_consent=True,
    ),
    ChannelSpec(
        "sms",
        "SMS",
        Direction.OUTBOUND,
        contact_field="phone",
        quiet_hours=True,
        needs_explicit_consent=True,
    ),
    ChannelSpec(
        "email", "E-mail", Direction.OUTBOUND, contact_field="email", needs_explicit_consent=True
    ),
)

BY_CODE: dict[str, ChannelSpec] = {spec.code: spec for spec in CHANNELS}

ALL_CHANNELS: tuple[str, ...] = tuple(spec.code for spec in CHANNELS)
INBOUND_CHANNELS: tuple[str, ...] = tuple(spec.code for spec in CHANNELS if spec.inbound)
OUTBOUND_CHANNELS: tuple[str, ...] = tuple(spec.code for spec in CHANNELS if spec.outbound)
INBOUND: frozenset[str] = frozenset(INBOUND_CHANNELS)
OUTBOUND: frozenset[str] = frozenset(OUTBOUND_CHANNELS)
HUMAN: frozenset[str] = frozenset(spec.code for spec in CHANNELS if spec.human)
QUIET_HOURS_DEFAULT: tuple[str, ...] = tuple(spec.code for spec in CHANNELS if spec.quiet_hours)
EXPLICIT_CONSENT: frozenset[str] = frozenset(
    spec.code for spec in CHANNELS if spec.needs_explicit_consent
)
CONTACT_FIELD: dict[str, str] = {
    spec.code: spec.contact_field for spec in CHANNELS if spec.contact_field
}


def spec(code: str) -> ChannelSpec:
    """The channel named ``code``; KeyError for an unknown one."""
    return BY_CODE[code]
