"""The event types channels send (API.md "Known types include", and the bank's own).

Channels may send other types: they are stored and may trigger nothing. A campaign may
trigger on a known type, on one channels have already sent (it is in the events table),
or on one the bank declares (``CROSSSELL_EXTRA_EVENT_TYPES``: a new signal a channel is
about to send); anything else is a typo that would never fire (``unknown_event_types``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from django.conf import settings

from customers.models import Event

KNOWN_EVENT_TYPES: frozenset[str] = frozenset(
    {
        # API.md
        "payment_failed",
        "large_transfer_out",
        "salary_deposit",
        "card_transaction",
        "page_view",
        "loan_calculator_used",
        "app_login",
        "branch_visit",
        "contact_center_call",
        # hardship signals (campaigns.policy_defaults.HARDSHIP_EVENT_TYPES)
        "overdraft",
        "missed_loan_payment",
        # lifecycle events the bank's core systems send
        "account_opened",
        "card_issued",
        "card_activated",
        "loan_application",
    }
)


def unknown_event_types(event_types: Iterable[str]) -> list[str]:
    """A message for each type that is neither known, declared nor ever received."""
    known = KNOWN_EVENT_TYPES | frozenset(settings.CROSSSELL_EXTRA_EVENT_TYPES)
    wanted = sorted({name for name in event_types if name and name not in known})
    if not wanted:
        return []
    seen = set(Event.objects.filter(type__in=wanted).values_list("type", flat=True).distinct())
    problems = []
    for name in wanted:
        if name in seen:
            continue
        close = difflib.get_close_matches(name, sorted(known | seen), n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else "no channel has sent it"
        problems.append(
            f"{name}: not an event type channels send ({hint}); a new one can be declared "
            "in CROSSSELL_EXTRA_EVENT_TYPES"
        )
    return problems
