"""Batch campaigns run on their schedule: beat asks every minute which are due.

A running batch campaign with a crontab ``schedule`` (validated when saved,
``campaigns.services.schedule_problem``) is due when the schedule has fired, in the bank's
time zone, since its last run began — or, before its first run, since it was last saved
(launching saves it). A campaign whose previous run is still going is left for the next
minute, so runs of one campaign never overlap.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from celery.schedules import crontab
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from campaigns.choices import CampaignKind, CampaignStatus, RunStatus
from campaigns.models import Campaign, CampaignRun
from campaigns.services import CRONTAB_FIELDS
from decisioning.runs.batch import campaign_run_start

logger = logging.getLogger(__name__)

SCHEDULER_ACTOR = "system:scheduler"


# A campaign paused for longer than this is due at most once when it resumes.
LOOK_BACK = timedelta(days=400)


def is_due(schedule: str, *, since: datetime, now: datetime) -> bool:
    """Has ``schedule`` (five crontab fields, in the bank's time zone) fired in
    (``since``, ``now``]? Celery's crontab parses the fields; the moments are found here,
    day by day backwards, because Celery evaluates a crontab in its own (UTC) zone."""
    rule = crontab(**dict(zip(CRONTAB_FIELDS, schedule.split(), strict=True)))
    bank = ZoneInfo(settings.BANK_TIME_ZONE)
    local_now = now.astimezone(bank)
    local_since = max(since, now - LOOK_BACK).astimezone(bank)
    hours = sorted(rule.hour, reverse=True)
    minutes = sorted(rule.minute, reverse=True)
    day = local_now.date()
    while day >= local_since.date():
        if (
            day.month in rule.month_of_year
            and day.day in rule.day_of_month
            and day.isoweekday() % 7 in rule.day_of_week  # crontab: 0 is Sunday
        ):
            for hour in hours:
                for minute in minutes:
                    moment = datetime.combine(day, time(hour, minute), tzinfo=bank)
                    if moment <= local_now:
                        return moment > local_since  # the latest firing up to now
        day -= timedelta(days=1)
    return False


def scheduled_runs_start(*, now: datetime | None = None) -> list[CampaignRun]:
    """Start a run of every batch campaign whose schedule is due; returns the runs."""
    now = now or timezone.now()
    campaigns = (
        Campaign.objects.filter(kind=CampaignKind.BATCH, status=CampaignStatus.RUNNING)
        .exclude(schedule="")
        .annotate(last_run=Max("runs__created_at"))
    )
    started = []
    for campaign in campaigns:
        since = max(filter(None, (campaign.last_run, campaign.updated_at)))
        if not is_due(campaign.schedule, since=since, now=now):
            continue
        if campaign.runs.filter(status__in=(RunStatus.PENDING, RunStatus.RUNNING)).exists():
            logger.warning(
                "campaign %s is due on its schedule but its last run is still going; "
                "it waits for the next minute",
                campaign.code,
            )
            continue
        started.append(campaign_run_start(actor=SCHEDULER_ACTOR, campaign=campaign))
    return started
