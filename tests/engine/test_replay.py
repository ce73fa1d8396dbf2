"""Replay: a stored decision against the same request under today's snapshot."""

from __future__ import annotations

import json

from decisioning.engine import ModelSpec, compare, decide

from .builders import campaign, contact_policy, customer, inbound, offer, snapshot

MODEL = ModelSpec("PERSONAL_LOAN", "3", ("age",), (0.0,), intercept=-1.0)


def stored_and_new(**changes):
    offers = [offer("GOLD"), offer("LOAN", "PERSONAL_LOAN"), offer("SAVE", "SAVINGS")]
    before = snapshot(offers, [campaign(1, ["GOLD", "LOAN", "SAVE"])], version="v1", models=[MODEL])
    after = snapshot(
        changes.get("offers", offers),
        [campaign(1, ["GOLD", "LOAN", "SAVE"])],
        version="v2",
        policy=changes.get("policy"),
        models=changes.get("models", [MODEL]),
    )
    request = inbound(max_offers=3)
    old = json.loads(json.dumps(decide(before, customer(), request).to_dict()))
    return old, decide(after, customer(), request)


def test_unchanged_rules_replay_with_no_change_but_the_snapshot_version():
    stored, new = stored_and_new()
    diff = compare(stored, new)
    assert not diff.changed
    assert diff.versions == {"snapshot_version": ("v1", "v2")}


def test_replay_names_removed_offers_with_the_rule_that_now_removes_them():
    offers = [
        offer("GOLD"),
        offer("LOAN", "PERSONAL_LOAN", status="paused"),
        offer("SAVE", "SAVINGS"),
    ]
    policy = contact_policy(version=2, daily_cap=3, weekly_cap=3)
    stored, new = stored_and_new(offers=offers, policy=policy, models=[])
    assert [o["offer_code"] for o in stored["offers"]] == ["LOAN"]
    diff = compare(stored, new)
    assert diff.changed
    changes = {(c.offer_code, c.change): c for c in diff.offers}
    assert changes[("LOAN", "removed")].why == "now: offer_not_active"
    assert changes[("GOLD", "added")].why == "before: frequency_cap"
    assert changes[("SAVE", "added")].after == 2
    assert {(r.offer_code, r.before, r.after) for r in diff.reasons} >= {
        ("LOAN", "released", "offer_not_active"),
        ("GOLD", "frequency_cap", "released"),
    }
    assert diff.versions["policy_version"] == (1, 2)
    assert diff.versions["model:PERSONAL_LOAN"] == ("3", None)
    data = diff.to_dict()
    assert data["changed"] and json.dumps(data)
    assert any(line.startswith("LOAN: removed") for line in data["summary"])
