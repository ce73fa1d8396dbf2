import datetime

import pytest
from django.utils import timezone

from campaigns.models import CampaignRunChunk
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Contact, Decision, Message
from decisioning.runs.batch import campaign_run_resume, campaign_run_start, run_chunk_execute
from decisioning.runs.simulate import campaign_simulate
from decisioning.signals.ingest import event_ingest
from tests.decisioning.catalog import small_bank, weekly_batch
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


@pytest.fixture
def customers():
    people = CustomerFactory.create_batch(30)
    for person in people[::2]:
        ConsentFactory(customer=person, channel="email")
    return people


def _start(campaign, **kwargs):
    return campaign_run_start(actor="user:maria", campaign=campaign, dispatch=False, **kwargs)


def _run_all(run):
    for chunk in run.chunks.order_by("first_customer_id"):
        run_chunk_execute(chunk_pk=chunk.pk, now=NOON)
    run.refresh_from_db()
    return run


def test_batch_run_stores_one_decision_per_customer_and_queues_consented_messages(customers):
    campaign = weekly_batch(small_bank())
    run = _run_all(_start(campaign, chunk_size=7))
    assert run.status == "completed" and run.processed_customers == 30
    assert Decision.objects.filter(run=run).count() == 30
    assert sum(run.outcome_counts.values()) == 30
    messages = Message.objects.filter(decision__run=run)
    assert messages.exists()
    consented = {c.pk for c in customers[::2]}
    assert {m.customer_id for m in messages} <= consented
    assert {m.channel for m in messages} == {"email"}
    assert Contact.objects.filter(decision__run=run).count() == messages.count()


def test_batch_decisions_agree_with_the_scalar_engine(customers):
    campaign = weekly_batch(small_bank())
    run = _run_all(_start(campaign, chunk_size=100))
    from decisioning import engine
    from decisioning.decisions.context import load_context

    loaded = snapshots.get(NOON)
    for decision in Decision.objects.filter(run=run).select_related("customer"):
        context = load_context(decision.customer, now=NOON, policy=loaded.engine.policy)
        # The run's own contacts are in the history now; decide as of before the run.
        context = type(context)(
            **{
                **{f: getattr(context, f) for f in context.__slots__},
                "contact_history": tuple(
                    c for c in context.contact_history if c.released_at < NOON
                ),
            }
        )
        scalar = engine.decide(
            loaded.engine,
            context,
            engine.DecisionRequest(mode="batch", now=NOON, campaign_ids=frozenset({campaign.pk})),
        )
        assert decision.outcome_reason == scalar.outcome
        assert [o["offer_code"] for o in decision.offers] == [o.offer_code for o in scalar.offers]


def test_a_run_killed_halfway_and_resumed_has_no_duplicate_and_no_missing_decision(customers):
    campaign = weekly_batch(small_bank())
    run = _start(campaign, chunk_size=8)
    chunks = list(run.chunks.order_by("first_customer_id"))
    run_chunk_execute(chunk_pk=chunks[0].pk, now=NOON)
    # A redelivered task for a finished chunk changes nothing.
    assert run_chunk_execute(chunk_pk=chunks[0].pk, now=NOON) is False
    assert CampaignRunChunk.objects.filter(run=run, status="pending").count() == len(chunks) - 1
    resumed = campaign_run_resume(actor="user:maria", run=run)
    assert resumed.pending_chunks == resumed.queued_chunks == len(chunks) - 1
    run.refresh_from_db()
    assert run.status == "completed"
    stored = list(Decision.objects.filter(run=run).values_list("customer_id", flat=True))
    assert sorted(stored) == sorted(c.pk for c in customers)


def test_shadow_run_records_what_it_would_have_done_and_releases_nothing(customers):
    campaign = weekly_batch(small_bank(), status="draft", shadow_mode=True)
    run = _run_all(_start(campaign, shadow=True))
    assert run.shadow
    decisions = Decision.objects.filter(run=run)
    assert decisions.count() == 30 and all(d.shadow for d in decisions)
    assert not Message.objects.exists() and not Contact.objects.exists()
    assert any(d.explanation["would_have_offered"] for d in decisions)


def test_simulation_reports_audience_funnel_and_expected_conversions_for_a_draft(customers):
    campaign = weekly_batch(small_bank(), status="draft")
    report = campaign_simulate(campaign=campaign, now=NOON)
    assert report.customers == 30
    assert sum(report.funnel.values()) == 30
    assert report.expected_conversions > 0
    assert not Decision.objects.exists()


def test_control_group_in_a_batch_run_is_recorded_but_gets_nothing(customers):
    from decimal import Decimal

    campaign = weekly_batch(small_bank(), control_group_pct=Decimal("100"))
    run = _run_all(_start(campaign))
    assert run.outcome_counts.get("control_group", 0) > 0
    held = Decision.objects.filter(run=run, control_group=True)
    assert held.exists() and all(d.offers == [] for d in held)
    assert not Message.objects.exists()


def test_only_batch_campaigns_have_runs():
    bank = small_bank()
    from core.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed):
        _start(bank.fuel_campaign)


def test_event_and_batch_share_one_attention_budget(customers, django_capture_on_commit_callbacks):
    bank = small_bank()
    campaign = weekly_batch(bank)
    person = customers[0]
    ConsentFactory(customer=person, channel="push")
    with django_capture_on_commit_callbacks(execute=True):
        event_ingest(
            actor="api:t",
            event_id="fuel-1",
            type="card_transaction",
            occurred_at=timezone.now(),  # fresh: processed on the real clock
            customer={"external_id": person.external_id},
            payload={"merchant_category": "fuel"},
        )
    assert Contact.objects.filter(customer=person, decision__event__isnull=False).count() == 1
    run = _run_all(_start(campaign))
    decision = Decision.objects.get(run=run, customer=person)
    assert decision.outcome_reason == "frequency_cap"
    assert Contact.objects.filter(customer=person, kind="sales", cancelled=False).count() == 1


# --- resuming a failed or stalled run: the service, the command, the API, the run page ------


def _failed_run(customers):
    """A run whose last chunk failed for good; the others are stored."""
    from campaigns.models import CampaignRun

    run = _start(weekly_batch(small_bank()), chunk_size=8)
    chunks = list(run.chunks.order_by("first_customer_id"))
    for chunk in chunks[:-1]:
        run_chunk_execute(chunk_pk=chunk.pk, now=NOON)
    CampaignRun.objects.filter(pk=run.pk).update(status="failed", error="Chunk ... failed 3 times")
    run.refresh_from_db()
    return run


def test_resuming_a_failed_run_finishes_its_chunks_and_keeps_the_stored_ones(customers):
    from ledger.models import AuditRecord

    run = _failed_run(customers)
    stored_before = set(Decision.objects.filter(run=run).values_list("pk", flat=True))
    resumed = campaign_run_resume(actor="user:maria", run=run)
    assert (resumed.pending_chunks, resumed.queued_chunks) == (1, 1)
    assert resumed.run.status == "completed" and resumed.run.error == ""
    assert stored_before < set(Decision.objects.filter(run=run).values_list("pk", flat=True))
    assert Decision.objects.filter(run=run).count() == 30
    record = AuditRecord.objects.get(action="run_resumed", object_id=str(run.pk))
    assert record.data["previous_status"] == "failed" and record.actor == "user:maria"


def test_a_completed_run_cannot_be_resumed(customers):
    from core.exceptions import Conflict

    run = _run_all(_start(weekly_batch(small_bank())))
    with pytest.raises(Conflict):
        campaign_run_resume(actor="user:maria", run=run)


def test_manage_py_resume_run_resumes_a_failed_run(customers, capsys):
    from django.core.management import CommandError, call_command

    run = _failed_run(customers)
    call_command("resume_run", str(run.pk))
    run.refresh_from_db()
    assert run.status == "completed"
    assert f"Run {run.pk}" in capsys.readouterr().out
    with pytest.raises(CommandError, match="completed"):
        call_command("resume_run", str(run.pk))
    with pytest.raises(CommandError, match="No run"):
        call_command("resume_run", "999999")


def _api(role):
    import uuid

    from crosssell.services import api_client_create
    from tests.api.conftest import ALL_CHANNELS, Api

    _, key = api_client_create(
        actor="system:tests",
        name=f"{role}-runs-{uuid.uuid4().hex[:8]}",
        role=role,
        channels=ALL_CHANNELS if role == "channel" else None,
    )
    return Api(key)


def test_the_api_resumes_a_failed_run_for_a_marketer(customers):
    run = _failed_run(customers)
    response = _api("marketer").post(f"/api/v1/runs/{run.pk}/resume/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["queued_chunks"] == 1
    assert body["run"]["status"] == "completed" and body["run"]["error"] == ""
    assert body["run"]["chunks"] == {"total": 4, "done": 4, "pending": 0}
    assert body["run"]["processed_customers"] == 30


def test_the_api_answers_409_for_a_completed_run_and_404_for_an_unknown_one(customers):
    run = _run_all(_start(weekly_batch(small_bank())))
    admin = _api("admin")
    conflict = admin.post(f"/api/v1/runs/{run.pk}/resume/")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    missing = admin.post("/api/v1/runs/99999999999999999999999/resume/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_api_shows_a_run_and_refuses_resume_to_other_roles(customers):
    run = _failed_run(customers)
    shown = _api("compliance").get(f"/api/v1/runs/{run.pk}/")
    assert shown.status_code == 200
    assert shown.json()["status"] == "failed" and shown.json()["chunks"]["pending"] == 1
    for role in ("compliance", "analyst", "channel"):
        refused = _api(role).post(f"/api/v1/runs/{run.pk}/resume/")
        assert refused.status_code == 403, role
    run.refresh_from_db()
    assert run.status == "failed"


def test_the_run_page_resume_button_posts_with_csrf_for_a_marketer(customers):
    import re

    from django.test import Client
    from django.urls import reverse

    from tests.factories import persona

    run = _failed_run(customers)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(persona("maker", "marketer"))
    page = browser.get(reverse("campaigns:run_detail", args=[run.pk]))
    assert page.status_code == 200
    action = reverse("decisioning:run_resume", args=[run.pk])
    html = page.content.decode()
    assert f'action="{action}"' in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    assert browser.post(action).status_code == 403  # no CSRF token
    response = browser.post(action, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == "completed"
    assert "resumed" in response.content.decode()


def test_the_run_page_hides_resume_from_other_roles_and_refuses_their_post(customers):
    from django.test import Client
    from django.urls import reverse

    from tests.factories import persona

    run = _failed_run(customers)
    browser = Client()
    browser.force_login(persona("analyst", "analyst"))
    page = browser.get(reverse("campaigns:run_detail", args=[run.pk]))
    assert page.status_code == 200 and "Resume run" not in page.content.decode()
    assert browser.post(reverse("decisioning:run_resume", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == "failed"


# --- storing a chunk: rows assembled column-wise are the rows built one by one ----------------

NIGHT = datetime.datetime(2026, 11, 23, 22, 30, tzinfo=datetime.UTC)  # quiet hours in Lisbon


def _capture_results(monkeypatch):
    """Every (loaded, result, run, now) a chunk stores, as it was handed to StoredBatch."""
    from decisioning.runs import batch

    seen = []
    build = batch.StoredBatch.from_result.__func__

    def spy(cls, loaded, result, *, run, now, copy=None):
        seen.append((loaded, result, run, now))
        return build(cls, loaded, result, run=run, now=now, copy=copy)

    monkeypatch.setattr(batch.StoredBatch, "from_result", classmethod(spy))
    return seen


def _row_by_row(loaded, result, run, now):
    """What a chunk stores, built per customer and per pick from the same shapes
    (``batch_stored_offer``, ``batch_explanation``): by customer id, the decision's fields
    and its messages and contacts (without ids)."""
    from core.channels import OUTBOUND
    from decisioning.decisions.released import batch_stored_offer
    from decisioning.engine import reasons
    from decisioning.engine.batch import NO_TIME
    from decisioning.runs.batch import batch_base_explanation, batch_explanation

    offers = [loaded.engine.offers[code] for code in result.offer_codes]
    shadow = run.shadow or result.shadow
    base = batch_base_explanation(result)
    expected = {}
    for row in range(result.size):
        outcome = reasons.OUTCOMES[int(result.outcome[row])]
        control = bool(result.control[row])
        picks = []
        for slot in range(result.chosen.shape[1]):
            index = int(result.chosen[row, slot])
            if index < 0:
                break
            deferred = int(result.deliver_after_us[row, slot])
            picks.append(
                batch_stored_offer(
                    rank=slot + 1,
                    offer=offers[index],
                    campaign=result.campaign_code,
                    channel=result.channels[int(result.chosen_channel[row, slot])],
                    score=float(result.chosen_score[row, slot]),
                    propensity=float(result.chosen_propensity[row, slot]),
                    deliver_after=None
                    if deferred == NO_TIME
                    else datetime.datetime.fromtimestamp(
                        deferred / 1e6, tz=datetime.UTC
                    ).isoformat(),
                    arm=result.offer_arms[index],
                )
            )
        released = [] if control or shadow else picks
        messages, contacts = [], []
        for pick in released:
            offer = loaded.engine.offers[pick["offer_code"]]
            offer_id = loaded.offer_ids[offer.code]
            if pick["channel"] in OUTBOUND:
                messages.append(
                    (
                        offer_id,
                        loaded.content_ids[(offer.code, pick["channel"], pick["content_version"])],
                        pick["channel"],
                        "queued",
                        datetime.datetime.fromisoformat(pick["deliver_after"])
                        if pick["deliver_after"]
                        else now,
                        now,
                    )
                )
            contacts.append(
                (
                    offer_id, pick["channel"] in OUTBOUND, offer.product.code, offer.family,
                    offer.kind, pick["channel"], now, False, "",
                )
            )  # fmt: skip
        expected[int(result.customer_ids[row])] = {
            "mode": "batch",
            "channel": "",
            "campaign_id": run.campaign_id,
            "created_at": now,
            "control_group": control,
            "shadow": shadow,
            "offers_released": len(released),
            "top_offer_code": released[0]["offer_code"] if released else "",
            "outcome_reason": outcome,
            "snapshot_version": result.snapshot_version,
            "policy_version": result.policy_version,
            "offers": released,
            "suppressed": [] if outcome == reasons.RELEASED else [{"reason": outcome}],
            "explanation": batch_explanation(
                base,
                outcome=outcome,
                arm=result.arms[int(result.arm[row])] if result.arms else None,
                in_audience=bool(result.in_audience[row]),
                control_group=control,
                would_have_offered=picks if (control or shadow) else [],
            ),
            "requested_by": run.requested_by,
            "messages": sorted(messages),
            "contacts": sorted(contacts),
        }
    return expected


def _stored(run):
    fields = (
        "mode", "channel", "campaign_id", "created_at", "control_group", "shadow",
        "offers_released", "top_offer_code", "outcome_reason", "snapshot_version",
        "policy_version", "offers", "suppressed", "explanation", "requested_by",
    )  # fmt: skip
    stored = {}
    for decision in Decision.objects.filter(run=run).prefetch_related("messages", "contacts"):
        row = {name: getattr(decision, name) for name in fields}
        row["messages"] = sorted(
            (m.offer_id, m.content_id, m.channel, m.status, m.deliver_after, m.created_at)
            for m in decision.messages.all()
        )
        row["contacts"] = sorted(
            (
                c.offer_id, c.message_id is not None, c.product_code, c.family, c.kind, c.channel,
                c.released_at, c.cancelled, c.outcome,
            )
            for c in decision.contacts.all()
        )  # fmt: skip
        stored[decision.customer_id] = row
    return stored


def _allow_two_sales_offers_a_day():
    from campaigns.selectors import contact_policy_approval
    from campaigns.services import contact_policy_update
    from compliance.services import approval_approve
    from tests.factories import persona

    proposal = contact_policy_update(
        actor=persona("policy-maker", "marketer"), data={"daily_cap": 2, "weekly_cap": 4}
    )
    approval_approve(
        actor_user=persona("policy-checker", "compliance"),
        request=contact_policy_approval(proposal),
    )


@pytest.mark.parametrize(
    ("now", "control_group_pct", "shadow"),
    [(NOON, "0", False), (NIGHT, "40", False), (NOON, "40", True)],
    ids=["released", "deferred-with-control-group", "shadow"],
)
def test_a_stored_chunk_holds_exactly_the_rows_a_row_by_row_build_gives(
    customers, monkeypatch, now, control_group_pct, shadow
):
    from decimal import Decimal

    for person in customers[::3]:
        ConsentFactory(customer=person, channel="sms")
    seen = _capture_results(monkeypatch)
    bank = small_bank()
    _allow_two_sales_offers_a_day()
    campaign = weekly_batch(
        bank,
        control_group_pct=Decimal(control_group_pct),
        **({"status": "draft", "shadow_mode": True} if shadow else {}),
    )
    run = _start(campaign, chunk_size=11, shadow=shadow)
    for chunk in run.chunks.order_by("first_customer_id"):
        run_chunk_execute(chunk_pk=chunk.pk, now=now)
    expected = {}
    for loaded, result, used_run, at in seen:
        expected.update(_row_by_row(loaded, result, used_run, at))
    stored = _stored(run)
    assert len(seen) == 3 and len(stored) == 30
    assert stored == expected
    kinds = [row for row in expected.values()]
    assert any(row["messages"] for row in kinds) or shadow
    assert any(len(row["offers"]) > 1 for row in kinds) or shadow
    assert any(len(row["explanation"]["would_have_offered"]) > 1 for row in kinds) or not shadow
    if now is NIGHT:
        assert any(o["deliver_after"] for row in kinds for o in row["offers"])
    if control_group_pct != "0":
        assert any(row["control_group"] for row in kinds)
        assert any(not row["control_group"] for row in kinds)


def test_copy_text_lines_carry_the_very_rows_the_insert_path_stores(customers, monkeypatch):
    """The COPY text PostgreSQL gets is each insert row's fields in COPY's text format,
    escapes included (a tab, a newline and a backslash in the requester's name)."""
    import itertools

    from decisioning.runs import batch

    seen = _capture_results(monkeypatch)
    for person in customers[::3]:
        ConsentFactory(customer=person, channel="sms")
    run = _start(weekly_batch(small_bank(), control_group_pct=__import__("decimal").Decimal(30)))
    for chunk in run.chunks.all():
        run_chunk_execute(chunk_pk=chunk.pk, now=NIGHT)
    loaded, result, used_run, at = seen[0]
    used_run.requested_by = 'user:a\tb\nc\\d"e'

    def built(copy):
        counter = itertools.count()
        monkeypatch.setattr(
            batch.os, "urandom", lambda n: bytes(next(counter) % 256 for _ in range(n))
        )
        return batch.StoredBatch.from_result(loaded, result, run=used_run, now=at, copy=copy)

    lines, rows = built(True), built(False)
    assert lines.copy and not rows.copy
    for table in ("decisions", "messages", "contacts"):
        assert getattr(lines, table) == [
            "\t".join(map(batch._copy_scalar, row)) + "\n" for row in getattr(rows, table)
        ], table
    assert rows.messages and rows.contacts
    assert any("\\t" in line and "\\\\" in line for line in lines.decisions)
    assert (lines.outcomes, lines.suppressions) == (rows.outcomes, rows.suppressions)
    assert sum(lines.outcomes.values()) == 30


def test_uuid4_hex_gives_distinct_version_4_uuids():
    import uuid

    from decisioning.runs.batch import uuid4_hex

    ids = uuid4_hex(5_000)
    parsed = [uuid.UUID(hex=value) for value in ids]
    assert len(set(ids)) == 5_000 and all(len(value) == 32 for value in ids)
    assert {u.version for u in parsed} == {4} and {u.variant for u in parsed} == {uuid.RFC_4122}
    assert [u.hex for u in parsed] == ids
    assert uuid4_hex(0) == []


# --- loading a chunk: columns built without a Python call per value are the same columns ----

TRICKY_JSON_VALUES = [
    1, 0, -7, 2.5, float("inf"), float("nan"), 10**400, True, False, None, "gold", "", "1",
    [1, 2], {"a": 1}, "gold", 3, None, "silver", 2**63,
]  # fmt: skip


def test_attribute_views_built_in_bulk_match_the_engines_value_by_value_views():
    import numpy as np

    from decisioning.engine.columns import AttributeColumn
    from decisioning.runs.loader import _attribute_column

    bulk, one_by_one = (
        _attribute_column(TRICKY_JSON_VALUES),
        AttributeColumn.from_values(TRICKY_JSON_VALUES),
    )
    for view in ("number", "boolean"):
        for part in ("values", "present"):
            assert np.array_equal(
                getattr(getattr(bulk, view), part), getattr(getattr(one_by_one, view), part)
            ), (view, part)
    assert np.array_equal(bulk.string.codes, one_by_one.string.codes)
    assert bulk.string.categories == one_by_one.string.categories == ("gold", "", "1", "silver")
    assert bulk.number.present.tolist()[:7] == [True, True, True, True, False, False, False]


def test_string_columns_built_in_bulk_keep_the_engines_categories_and_codes():
    import numpy as np

    from decisioning.engine.columns import StringColumn
    from decisioning.runs.loader import _strings

    values = ["b", None, "a", "b", None, "c", "a"]
    bulk, one_by_one = _strings(values), StringColumn.from_values(values)
    assert bulk.categories == one_by_one.categories == ("b", "a", "c")
    assert np.array_equal(bulk.codes, one_by_one.codes) and bulk.codes.dtype == np.int32
    assert _strings([]).categories == () and len(_strings([]).codes) == 0


def test_ages_and_months_count_whole_years_and_months_to_the_day():
    import math

    from decisioning.runs.loader import _ages, _months

    today = datetime.date(2026, 2, 28)
    born = [
        datetime.date(2000, 2, 29), datetime.date(2000, 2, 28), datetime.date(2000, 3, 1),
        None, datetime.date(2026, 2, 28), datetime.date(2026, 3, 15), datetime.date(1926, 1, 31),
    ]  # fmt: skip
    ages, months = _ages(born, today).tolist(), _months(born, today).tolist()
    assert ages[:3] == [25, 26, 25] and math.isnan(ages[3]) and ages[4:] == [0, -1, 100]
    assert months[:3] == [311, 312, 311] and math.isnan(months[3]) and months[4:] == [0, 0, 1200]


# --- storing a chunk on PostgreSQL: its references are checked before the commit -------------


@pytest.mark.parametrize("set_based", [True, False], ids=["set-based-check", "row-triggers"])
def test_a_chunk_referring_to_a_customer_deleted_meanwhile_fails_and_stores_nothing(
    customers, monkeypatch, set_based
):
    from django.db import IntegrityError, connection

    from customers.models import Customer
    from decisioning.models import ChunkDispatch
    from decisioning.runs import batch

    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite checks deferred foreign keys only at COMMIT, which a test never reaches"
        )
    monkeypatch.setattr(batch.StoredBatch, "SET_BASED_REFERENCE_CHECKS", set_based)
    gone = customers[1]  # no consent, nothing else refers to it
    write = batch.StoredBatch.write

    def write_after_a_deletion(self):
        Customer.objects.filter(pk=gone.pk).delete()
        write(self)

    monkeypatch.setattr(batch.StoredBatch, "write", write_after_a_deletion)
    run = _start(weekly_batch(small_bank()))
    chunk = run.chunks.get()
    with pytest.raises(IntegrityError):
        run_chunk_execute(chunk_pk=chunk.pk, now=NOON)
    chunk.refresh_from_db()
    assert chunk.status == "pending" and not Decision.objects.filter(run=run).exists()
    assert Customer.objects.filter(pk=gone.pk).exists()  # the deletion was rolled back too
    assert ChunkDispatch.objects.get(pk=chunk.pk).failures == 1


def _canonical(value):
    import json

    return json.dumps(value, sort_keys=True, default=str)


def test_a_batch_decision_keeps_its_column_facts_once_and_reads_as_if_it_repeated_them(
    customers, monkeypatch
):
    """A batch row's explanation does not repeat what the row holds in columns (mode,
    policy and snapshot versions) nor the form's constants; the explanation view, the
    replay and erasure's redaction read it exactly as the full form once stored."""
    import copy
    from decimal import Decimal

    from decisioning import engine
    from decisioning.decisions.explanation import decision_explanation
    from decisioning.decisions.replay import decision_replay
    from decisioning.rights.redaction import decisions_redact_for_customer

    seen = _capture_results(monkeypatch)
    run = _start(weekly_batch(small_bank(), control_group_pct=Decimal(30)), chunk_size=11)
    _run_all(run)
    results = {int(cid): result for _l, result, _r, _n in seen for cid in result.customer_ids}
    decisions = list(Decision.objects.filter(run=run).select_related("customer"))
    assert len(decisions) == 30
    assert {d.outcome_reason for d in decisions} >= {"released", "control_group"}
    later = NOON + datetime.timedelta(hours=1)
    for decision in decisions:
        row = decision.explanation
        assert not {"format", "trace", "mode", "policy_version", "snapshot_version"} & set(row)
        result = results[decision.customer_id]
        # the form every batch row stored before: the run's constants on every row
        full = copy.copy(decision)
        full.explanation = {
            "format": engine.COMPACT_FORMAT,
            "trace": "replay",
            "mode": "batch",
            "campaign": result.campaign_code,
            "policy_version": result.policy_version,
            "snapshot_version": result.snapshot_version,
            "model_versions": dict(result.model_versions),
            **row,
        }
        assert _canonical(decision_explanation(decision)) == _canonical(decision_explanation(full))
        assert _canonical(decision_replay(decision=decision, now=later)) == _canonical(
            decision_replay(decision=full, now=later)
        )
    redacted = decisions[0]
    decisions_redact_for_customer(customer=redacted.customer)
    redacted.refresh_from_db()
    assert redacted.explanation["mode"] == "batch"
    assert redacted.explanation["policy_version"] == redacted.policy_version
    assert redacted.explanation["snapshot_version"] == redacted.snapshot_version
    assert redacted.explanation["model_versions"] == dict(
        results[redacted.customer_id].model_versions
    )
