"""The arbitration's refusals are stored once: candidates removed for the same reason on
the same channel (or the same family) share one verdict row of the compact form."""

from __future__ import annotations

from decisioning.engine import decide, reasons

from .builders import campaign, contact_policy, customer, inbound, offer, snapshot


def _rows(stored: dict, rule: str) -> list[list]:
    return [row for row in stored["verdicts"] if row[0] == rule]


def test_candidates_refused_alike_by_the_arbitration_share_one_verdict_row():
    codes = ["GOLD", "FUEL", "LOAN", "SAVE", "FUND"]
    snap = snapshot(
        [
            offer("GOLD", lever=3.0),
            offer("FUEL", "FUEL_CARD", lever=9.0),
            offer("LOAN", "PERSONAL_LOAN"),
            offer("SAVE", "SAVINGS"),
            offer("FUND", "FUND"),
        ],
        [campaign(1, codes)],
        policy=contact_policy(daily_cap=5, weekly_cap=5),
    )
    decision = decide(snap, customer(), inbound(max_offers=1))
    refused = [c.offer_code for c in decision.candidates if c.outcome == reasons.MAX_OFFERS_REACHED]
    assert len(refused) >= 2, "several candidates lose to the one-offer limit"

    stored = decision.to_compact()
    (row,) = _rows(stored, reasons.MAX_OFFERS_REACHED)
    position = stored["verdicts"].index(row)
    by_code = {c["offer_code"]: c for c in stored["candidates"]}
    assert all(by_code[code]["x"] == position for code in refused)
    # What each candidate was refused with is unchanged.
    suppressed = {item["offer_code"]: item for item in decision.to_dict()["suppressed"]}
    for code in refused:
        assert suppressed[code]["reason"] == reasons.MAX_OFFERS_REACHED
        assert suppressed[code]["detail"] == row[2]
