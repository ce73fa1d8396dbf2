"""Channel names: where an offer can be released.

Inbound channels serve a customer who is present and are decided synchronously;
outbound channels queue a message. The values match ``customers.choices.Channel``.
"""

from __future__ import annotations

MOBILE_APP = "mobile_app"
WEB = "web"
BRANCH = "branch"
CONTACT_CENTER = "contact_center"
ATM = "atm"
PUSH = "push"
SMS = "sms"
EMAIL = "email"

INBOUND_CHANNELS: tuple[str, ...] = (MOBILE_APP, WEB, BRANCH, CONTACT_CENTER, ATM)
OUTBOUND_CHANNELS: tuple[str, ...] = (PUSH, SMS, EMAIL)
ALL_CHANNELS: tuple[str, ...] = INBOUND_CHANNELS + OUTBOUND_CHANNELS

INBOUND: frozenset[str] = frozenset(INBOUND_CHANNELS)
OUTBOUND: frozenset[str] = frozenset(OUTBOUND_CHANNELS)
