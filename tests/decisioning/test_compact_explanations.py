"""Stored decisions are compact; the full trace derived from them is what was decided.

Every mode is decided through its real path (an inbound request, a signal processed by
the real-time path, a batch run's chunk), the engine's own answer is captured as it is
stored, and the trace ``decisioning.decisions.explanation`` derives later is compared
with it: byte for byte (canonical JSON) for inbound and real-time decisions, whose
whole trace was decided; for batch decisions, decided column-wise, on what the run
decided (outcome and the offers chosen, with rank, channel, content version, score and
propensity), the candidates coming from a replay through the scalar engine.
"""

from __future__ import annotations

import datetime
import json

import pytest

from decisioning import engine
from decisioning.decisions import inbound as inbound_path
from decisioning.decisions.explanation import decided_picks, decision_explanation, full_trace
from decisioning.decisions.inbound import decide_inbound
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Decision
from decisioning.runs.batch import campaign_run_start, run_chunk_execute
from decisioning.signals import process as signal_path
from decisioning.signals.process import event_process
from tests.decisioning.catalog import approve_targeting, fuel_purchase, small_bank, weekly_batch
from tests.factories import ConsentFactory, CustomerFactory, IdentityLinkFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode()


@pytest.fixture
def decided(monkeypatch):
    """The engine's own answer of every decision stored, by decision id."""
    answers: dict[str, engine.Decision] = {}

    def spying(store):
        def spy(**kwargs):
            stored = store(**kwargs)
            answers[str(stored.decision.pk)] = kwargs["result"]
            return stored

        return spy

    monkeypatch.setattr(inbound_path, "decision_store", spying(inbound_path.decision_store))
    monkeypatch.setattr(signal_path, "decision_store", spying(signal_path.decision_store))
    return answers


def _trace_without_store_additions(decision: Decision) -> dict:
    trace = full_trace(Decision.objects.select_related("customer").get(pk=decision.pk))
    for key in ("request", "identity", "inputs"):
        trace.pop(key, None)
    return trace


def test_an_inbound_decision_is_stored_compactly_and_its_trace_is_what_was_decided(decided):
    small_bank()
    customers = CustomerFactory.create_batch(6)
    for customer in customers:
        decision = decide_inbound(
            actor="api:branch", customer=customer, channel="branch", max_offers=2, now=NOON
        )
        answer = decided[str(decision.pk)].to_dict()
        assert answer["candidates"], "the small bank considers candidates on the branch"
        stored = Decision.objects.get(pk=decision.pk).explanation
        assert stored["format"] == engine.COMPACT_FORMAT
        assert len(canonical(stored)) < len(canonical(answer)) * 0.7
        assert canonical(_trace_without_store_additions(decision)) == canonical(answer)


def test_an_ineligible_verdict_names_the_approved_targeting_version_instead_of_its_rule(decided):
    bank = small_bank()
    # The loan's targeting is an approved version: its verdict names the version, not the
    # text. The fuel card's row was never versioned (version 0): its text stays.
    approve_targeting(bank.personal_loan)
    assert snapshots.get(NOON).engine.offers["LOAN_SPRING"].status == "active"
    for customer in CustomerFactory.create_batch(4):
        decision = decide_inbound(actor="api:web", customer=customer, channel="web", now=NOON)
        answer = decided[str(decision.pk)].to_dict()
        rows = {
            row[2].get("rule", tuple(row[2].get("targeting", ()))): row
            for row in Decision.objects.get(pk=decision.pk).explanation["verdicts"]
            if row[0] == "ineligible"
        }
        # (the savings offer has no rule: its row never had text to spare)
        assert set(rows) == {("LOAN_SPRING", 1), "age >= 18", ""}, rows
        assert "values" in rows[("LOAN_SPRING", 1)][2]
        assert canonical(_trace_without_store_additions(decision)) == canonical(answer)
        loan = next(v for v in answer["verdicts"] if v["detail"].get("rule") == "age >= 21")
        assert loan["rule"] == "ineligible"


def test_a_real_time_decision_from_a_signal_gives_back_what_was_decided(decided):
    bank = small_bank()
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="push")
    IdentityLinkFactory(customer=customer, type="device_id")
    event = fuel_purchase(customer, event_id="E-fuel-1", at=NOON)
    made = event_process(event_pk=event.pk, now=NOON)
    assert made and any(d.campaign_id == bank.fuel_campaign.pk for d in made)
    for decision in made:
        answer = decided[str(decision.pk)].to_dict()
        assert "trigger" in answer
        assert canonical(_trace_without_store_additions(decision)) == canonical(answer)


def test_a_batch_decision_is_replayed_into_the_same_outcome_and_offers_with_its_candidates():
    campaign = weekly_batch(small_bank())
    people = CustomerFactory.create_batch(12)
    for person in people[::2]:
        ConsentFactory(customer=person, channel="email")
    run = campaign_run_start(actor="user:maria", campaign=campaign, dispatch=False)
    for chunk in run.chunks.all():
        run_chunk_execute(chunk_pk=chunk.pk, now=NOON)
    decisions = list(Decision.objects.filter(run=run).select_related("customer"))
    assert len(decisions) == 12 and any(d.offers for d in decisions)
    for decision in decisions:
        view = decision_explanation(decision)
        assert view["trace"] == {
            "source": "replay",
            "replayed_snapshot_version": decision.snapshot_version,
            "matches": True,
            "differences": [],
        }
        # what the run decided, byte for byte, against the replay's engine answer
        assert view["outcome"] == decision.outcome_reason
        assert canonical(decided_picks(view["offers"])) == canonical(decided_picks(decision.offers))
        assert view["candidates"], "the replay lists every candidate considered"
        for candidate in view["candidates"]:
            assert candidate["verdicts"] and all(v["label"] for v in candidate["verdicts"])
        if decision.outcome_reason not in ("released", "control_group"):
            assert decision.outcome_reason in {s["reason"] for s in view["suppressed"]}


def test_every_verdict_of_a_released_offer_is_named_and_passes(decided):
    small_bank()
    customer = CustomerFactory()
    decision = decide_inbound(actor="api:branch", customer=customer, channel="branch", now=NOON)
    view = decision_explanation(Decision.objects.select_related("customer").get(pk=decision.pk))
    released = [c for c in view["candidates"] if c["outcome"] == "released"]
    assert released, "the small bank releases an offer on the branch"
    for candidate in released:
        verdicts = candidate["verdicts"] + [
            v for channel in candidate["channels"] for v in channel["verdicts"]
        ]
        assert all(v["state"] in ("pass", "exempt") for v in verdicts)
        assert all(v["label"] and v["label"] != v["rule"] for v in verdicts)


def test_every_score_factor_field_is_stored_and_expanded_without_a_code_change():
    """The factors are serialised from the type's own fields: a field added to
    ``ScoreFactors`` is in every stored row and back in every expanded trace."""
    from decisioning.engine.decision import _factors_dict, factors_row

    names = engine.ScoreFactors._fields
    assert engine.factor_fields() == names
    factors = engine.ScoreFactors(0.2, 100.0, 1.0, 2.5, "model", "7", context="event x")
    row = factors_row(factors)
    assert len(row) == len(names)
    as_dict = engine.factors_to_dict(factors)
    set_fields = {name for name in names if getattr(factors, name) is not None}
    assert set(as_dict) == set_fields | {"model_version"}
    assert _factors_dict(list(names), row) == as_dict
