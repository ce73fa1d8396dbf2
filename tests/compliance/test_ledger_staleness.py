"""Records left unsealed past the stale threshold fail verification — in the command, the
API and the console — and each says how many."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crosssell.services import api_client_create
from ledger.choices import AuditKind
from ledger.sealer import seal_all_pending
from ledger.services import audit_many, build_record
from ledger.verify import verify_ledger

pytestmark = pytest.mark.django_db

STALE = 3


@pytest.fixture
def stale_records(ledger_baseline):
    """Three records written two minutes ago that no sealer has covered (the sealer is
    down), and one written just now."""
    two_minutes_ago = timezone.now() - datetime.timedelta(seconds=120)
    audit_many(
        [
            build_record(
                kind=AuditKind.DECISION, action="decided", actor="system:test", at=two_minutes_ago
            )
            for _ in range(STALE)
        ]
    )
    audit_many([build_record(kind=AuditKind.DECISION, action="decided", actor="system:test")])
    return list(ledger_baseline.records().order_by("seq").values_list("seq", flat=True))


def test_stale_unsealed_records_fail_verification_with_their_count(stale_records):
    report = verify_ledger()
    assert report.intact and not report.ok
    assert (report.unsealed_records, report.stale_unsealed_records) == (STALE + 1, STALE)
    assert report.stale_after_seconds == 60
    assert report.broken == "stale_unsealed" and report.failures == ["stale_unsealed"]
    assert report.broken_seq == report.oldest_stale_seq == stale_records[0]
    assert f"{STALE} record(s) unsealed for more than 60s" in report.summary()


def test_fresh_unsealed_records_and_sealed_ones_verify_ok(stale_records):
    assert verify_ledger(stale_after_seconds=600).ok  # within the threshold: awaiting a seal
    seal_all_pending()
    report = verify_ledger()
    assert report.ok and report.stale_unsealed_records == 0 and report.failures == []


def test_verify_audit_exits_non_zero_and_says_how_many_are_stale(stale_records):
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_audit", stdout=out)
    assert exit_.value.code == 2  # intact but stale (1 is for a broken record or seal)
    assert f"{STALE} record(s) unsealed for more than 60s" in out.getvalue()
    assert out.getvalue().startswith("audit ledger NOT VERIFIED")

    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_audit", "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["ok"] is False and body["intact"] is True
    assert body["stale_unsealed_records"] == STALE
    assert body["broken"] == "stale_unsealed" and body["seq"] == stale_records[0]

    call_command("verify_audit", "--seal-first", stdout=io.StringIO())  # sealed: exit 0


def test_the_api_says_not_ok_with_the_stale_count(stale_records):
    _, key = api_client_create(actor="system:tests", name="dpo-api", role="compliance")
    response = Client().get("/api/v1/audit/verify/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["intact"] is True
    assert body["records"] >= STALE + 1  # the contract's fields stay
    assert body["stale_unsealed_records"] == STALE and body["stale_after_seconds"] == 60
    assert body["unsealed_records"] == STALE + 2  # the fresh one and the key's creation
    assert body["seq"] == stale_records[0] and body["broken"] == "stale_unsealed"
    assert body["failures"] == ["stale_unsealed"]
    assert "3 record(s) unsealed" in body["reason"]

    seal_all_pending()
    body = Client().get("/api/v1/audit/verify/", HTTP_AUTHORIZATION=f"Token {key}").json()
    assert body["ok"] is True and body["stale_unsealed_records"] == 0 and "seq" not in body


def test_the_console_verification_page_fails_and_says_how_many(stale_records, checker):
    client = Client()
    client.force_login(checker)
    response = client.post(reverse("compliance:ledger_verify"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ledger verified." not in body and 'class="notice bad"' in body
    assert f"Ledger not verified: {STALE} records unsealed for more than 60 s" in body
    assert f"(oldest #{stale_records[0]})" in body

    seal_all_pending()
    body = client.post(reverse("compliance:ledger_verify")).content.decode()
    assert "Ledger verified." in body and "<html" in body
