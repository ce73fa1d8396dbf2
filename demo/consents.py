"""Who agreed to hear from the bank, where: consent per channel, opt-outs, do-not-contact.

Outbound channels (push, SMS, e-mail) carry an explicit grant or revoke, or nothing when
the customer was never asked. Inbound channels are allowed unless revoked, so only a few
customers have an inbound row (a revoke). A few percent opted out of all marketing
(``all`` revoked) and a handful are on the do-not-contact list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compliance.choices import ConsentChannel
from demo.population import Population

NONE, GRANTED, REVOKED = 0, 1, 2

GLOBAL_OPT_OUT_SHARE = 0.03
DO_NOT_CONTACT_SHARE = 0.004
INBOUND_REVOKE_SHARE = 0.01

CONSENT_SOURCES = ("onboarding", "mobile_app_settings", "web_preferences", "branch_form")
DO_NOT_CONTACT_REASONS = (
    "Customer asked not to receive marketing (contact center)",
    "Registered on the Robinson list",
    "Complaint handling: marketing paused",
)


@dataclass(slots=True)
class ConsentDraw:
    """Per channel: 0 no row, 1 granted, 2 revoked; plus the do-not-contact list."""

    status: dict[str, np.ndarray]
    do_not_contact: np.ndarray

    @property
    def global_opt_out(self) -> np.ndarray:
        return self.status[ConsentChannel.ALL] == REVOKED

    def marketing_allowed(self) -> np.ndarray:
        return ~self.global_opt_out & ~self.do_not_contact

    def channel_allowed(self, channel: str, *, outbound: bool) -> np.ndarray:
        status = self.status.get(channel)
        if status is None:
            return np.full(len(self.do_not_contact), not outbound)
        return status == GRANTED if outbound else status != REVOKED


def _pick(
    rng: np.random.Generator, eligible: np.ndarray, granted: float, revoked: float
) -> np.ndarray:
    u = rng.random(len(eligible))
    status = np.where(u < granted, GRANTED, np.where(u < granted + revoked, REVOKED, NONE))
    return np.where(eligible, status, NONE).astype(np.int8)


def draw_consents(pop: Population, rng: np.random.Generator) -> ConsentDraw:
    n = pop.size
    always = np.ones(n, dtype=bool)
    status = {
        ConsentChannel.EMAIL.value: _pick(rng, pop.has_email, 0.62, 0.14),
        ConsentChannel.SMS.value: _pick(rng, pop.has_phone, 0.52, 0.12),
        ConsentChannel.PUSH.value: _pick(rng, pop.digital_active, 0.72, 0.10),
        ConsentChannel.MOBILE_APP.value: _pick(rng, pop.digital_active, 0.0, INBOUND_REVOKE_SHARE),
        ConsentChannel.WEB.value: _pick(rng, always, 0.0, INBOUND_REVOKE_SHARE / 2),
        ConsentChannel.ALL.value: _pick(rng, always, 0.0, GLOBAL_OPT_OUT_SHARE),
    }
    do_not_contact = rng.random(n) < DO_NOT_CONTACT_SHARE
    return ConsentDraw(status=status, do_not_contact=do_not_contact)
