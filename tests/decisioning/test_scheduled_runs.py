"""Batch campaigns start their runs when their crontab schedule fires."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign, CampaignRun
from decisioning.runs.schedule import is_due, scheduled_runs_start
from tests.decisioning.catalog import small_bank, weekly_batch
from tests.factories import CustomerFactory

LISBON = ZoneInfo("Europe/Lisbon")
MONDAY_0900 = datetime.datetime(2026, 12, 7, 9, 0, 30, tzinfo=LISBON)


def test_a_schedule_is_due_once_it_has_fired_since_the_last_run():
    last_monday = MONDAY_0900 - datetime.timedelta(days=7)
    assert is_due("0 9 * * mon", since=last_monday, now=MONDAY_0900)
    assert not is_due("0 9 * * mon", since=MONDAY_0900, now=MONDAY_0900)
    sunday = MONDAY_0900 - datetime.timedelta(hours=21)
    assert is_due("0 9 * * mon", since=sunday, now=MONDAY_0900)
    assert not is_due("0 9 * * mon", since=sunday, now=MONDAY_0900 - datetime.timedelta(hours=1))


def test_the_schedule_reads_the_banks_time_zone(settings):
    settings.BANK_TIME_ZONE = "Europe/Lisbon"
    # 09:00 in Lisbon in summer is 08:00 UTC: due at 08:00:30 UTC, not before
    since = datetime.datetime(2026, 7, 5, 12, 0, tzinfo=datetime.UTC)  # a Sunday
    at = datetime.datetime(2026, 7, 6, 8, 0, 30, tzinfo=datetime.UTC)
    assert is_due("0 9 * * mon", since=since, now=at)
    assert not is_due("0 9 * * mon", since=since, now=at - datetime.timedelta(minutes=5))


@pytest.mark.django_db
def test_a_due_batch_campaign_starts_one_run_and_is_not_due_again_until_it_fires_again():
    bank = small_bank()
    CustomerFactory()
    campaign = weekly_batch(bank, schedule="* * * * *")
    Campaign.objects.filter(pk=campaign.pk).update(
        updated_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=2)
    )
    (run,) = scheduled_runs_start()
    assert run.campaign_id == campaign.pk and run.requested_by == "system:scheduler"
    assert scheduled_runs_start() == []  # the run began this minute
    assert CampaignRun.objects.filter(campaign=campaign).count() == 1


@pytest.mark.django_db
def test_a_campaign_whose_run_is_still_going_waits(settings):
    bank = small_bank()
    CustomerFactory()
    campaign = weekly_batch(bank, schedule="* * * * *")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    CampaignRun.objects.create(
        campaign=campaign, status="running", total_customers=1, requested_by="user:maria"
    )
    assert scheduled_runs_start(now=later) == []


@pytest.mark.django_db
def test_campaigns_without_a_schedule_or_not_running_never_start_on_their_own():
    bank = small_bank()
    weekly_batch(bank, code="NO_SCHEDULE", schedule="")
    weekly_batch(bank, code="PAUSED", schedule="* * * * *", status="paused")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8)
    assert scheduled_runs_start(now=later) == []
