"""Computing campaign results into the aggregate tables, one bank-local day at a time.

What a day counts (decisions made that day, in ``BANK_TIME_ZONE``; shadow decisions never):

- **treated units**: contacts — each offer a decision released on a channel
  (``decisioning.Contact``), cancelled at send time or not (intention to treat);
- **control units**: each offer a held-out decision would have released
  (``explanation.would_have_offered`` of decisions with ``control_group``), on the channel
  it would have used;
- **conversion** of a unit: the customer opened the offered product (a ``Holding`` of its
  product code) from the day before the decision's day (UTC dates of holdings opened by a
  late-evening accept) to ``CROSSSELL_RESULTS_ATTRIBUTION_DAYS`` after it. An accepted
  sales offer opens the holding, and so does an organic purchase, so the same outcome is
  measured in both groups; eligibility excluded holders when the decision was made;
- **responses** (treated): the strongest outcome each contact reached;
- **opt-outs**: a consent on the unit's channel (or ``all``) revoked from the start of the
  day to the end of the attribution window;
- **duplicates prevented**: offers the engine held back as ``presented_elsewhere`` and
  messages the send-time gate cancelled for it;
- **adoption**: inbound decisions that released offers to a banker or agent (human
  channels), those presented (a response names the decision) and overridden;
- **latency**: event decisions that released an offer, from the event's receipt to the
  decision, as histogram buckets.

Every figure is one grouped SQL query over the day's rows (``_Day``); Python only merges
the grouped rows (a few hundred a day) into model rows. Recomputing a day replaces all of
its rows in one transaction, under a row lock on its ``KpiComputation``.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign
from compliance.models import Consent
from core.actors import actor_name
from core.channels import HUMAN
from core.exceptions import ValidationFailed
from customers.models import Customer, Event, Holding
from decisioning.choices import Outcome
from decisioning.engine.reasons import PRESENTED_ELSEWHERE
from decisioning.models import Contact, Decision, Message, Override, Response
from offers.models import Offer, Product
from results import segments
from results.choices import Group
from results.models import AdoptionDay, KpiComputation, LatencyDay, OfferDay, SegmentDay
from results.stats import LATENCY_BUCKETS_MS

logger = logging.getLogger(__name__)

# How far back ``kpis_compute`` reaches at most in one call (a recompute of two years).
MAX_DAYS = 731


def attribution_days() -> int:
    return int(settings.CROSSSELL_RESULTS_ATTRIBUTION_DAYS)


def bank_zone() -> ZoneInfo:
    return ZoneInfo(settings.BANK_TIME_ZONE)


def bank_today(now: datetime.datetime | None = None) -> datetime.date:
    return timezone.localtime(now or timezone.now(), bank_zone()).date()


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The bank-local day as [start, end) in UTC."""
    zone = bank_zone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


@dataclass(frozen=True, slots=True)
class DayComputed:
    day: datetime.date
    rows: int
    seconds: float
    treated: int
    control: int


# --- SQL -------------------------------------------------------------------------------


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _json_items(decision_alias: str, field: str) -> tuple[str, str]:
    """A FROM fragment expanding ``<decision>.<field>`` (a JSON array, or an object
    holding one) into rows aliased ``item``, and a template reading a key of one item."""
    column = f"{decision_alias}.{connection.ops.quote_name(field)}"
    if connection.vendor == "postgresql":
        path = field.split(".")
        if len(path) == 2:
            column = f"{decision_alias}.{connection.ops.quote_name(path[0])} -> '{path[1]}'"
        source = (
            f"CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof({column}) = "
            f"'array' THEN {column} ELSE '[]'::jsonb END) AS item(value)"
        )
        return source, "(item.value ->> '{key}')"
    if connection.vendor == "sqlite":
        path = field.split(".")
        if len(path) == 2:
            column = f"{decision_alias}.{connection.ops.quote_name(path[0])}"
            source = f"JOIN json_each({column}, '$.{path[1]}') AS item"
        else:
            source = f"JOIN json_each({column}) AS item"
        return source, "json_extract(item.value, '$.{key}')"
    raise NotImplementedError(f"results need PostgreSQL or SQLite, not {connection.vendor}")


def _milliseconds(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000.0)"
    return f"((julianday({later}) - julianday({earlier})) * 86400000.0)"


class _Day:
    """The SQL of one day, with its parameters."""

    def __init__(self, day: datetime.date, window_days: int) -> None:
        ops = connection.ops
        start, end = day_bounds(day)
        self.day = day
        self.params: dict[str, Any] = {
            "start": ops.adapt_datetimefield_value(start),
            "end": ops.adapt_datetimefield_value(end),
            "window_end_at": ops.adapt_datetimefield_value(
                end + datetime.timedelta(days=window_days)
            ),
            "first_day": ops.adapt_datefield_value(day - datetime.timedelta(days=1)),
            "day": ops.adapt_datefield_value(day),
            "last_day": ops.adapt_datefield_value(day + datetime.timedelta(days=window_days)),
            "no": False,
            "yes": True,
            "treated": Group.TREATED.value,
            "control": Group.CONTROL.value,
            "revoked": "revoked",
            "all_channels": "all",
            "inbound": "inbound",
            "event": "event",
            "presented_elsewhere": PRESENTED_ELSEWHERE,
            **{f"outcome_{o}": o for o in Outcome.values},
        }

    def _run(self, sql: str, extra: dict[str, Any] | None = None) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, {**self.params, **(extra or {})})
            return cursor.fetchall()

    def units_cte(self) -> str:
        held_source, item = _json_items("d", "explanation.would_have_offered")
        return f"""
        units AS (
            SELECT %(treated)s AS grp, c.customer_id AS customer_id,
                   c.campaign_id AS campaign_id, c.offer_id AS offer_id,
                   c.channel AS channel, c.product_code AS product_code,
                   CASE WHEN c.cancelled THEN 1 ELSE 0 END AS cancelled,
                   c.outcome AS outcome
            FROM {_t(Contact)} c
            JOIN {_t(Decision)} d ON d.id = c.decision_id
            WHERE d.created_at >= %(start)s AND d.created_at < %(end)s AND d.shadow = %(no)s
            UNION ALL
            SELECT %(control)s, d.customer_id, COALESCE(d.campaign_id, cp.id), o.id,
                   COALESCE({item.format(key="channel")}, ''),
                   hp.code, 0, ''
            FROM {_t(Decision)} d
            {held_source}
            JOIN {_t(Offer)} o ON o.code = {item.format(key="offer_code")}
            JOIN {_t(Product)} hp ON hp.id = o.product_id
            LEFT JOIN {_t(Campaign)} cp ON cp.code = {item.format(key="campaign")}
            WHERE d.created_at >= %(start)s AND d.created_at < %(end)s
              AND d.control_group = %(yes)s AND d.shadow = %(no)s
        )"""

    def converted_sql(self, alias: str = "units") -> str:
        return f"""CASE WHEN EXISTS (
                SELECT 1 FROM {_t(Holding)} h
                WHERE h.customer_id = {alias}.customer_id
                  AND h.product_code = {alias}.product_code
                  AND h.opened_at >= %(first_day)s AND h.opened_at <= %(last_day)s
            ) THEN 1 ELSE 0 END"""

    def offers(self) -> list[tuple]:
        """(group, campaign, offer, channel, units, customers, cancelled, impressions,
        clicks, accepts, declines, dismisses, conversions, revenue, opt-outs)."""
        sql = f"""
        WITH {self.units_cte()}
        SELECT u.grp, u.campaign_id, u.offer_id, u.channel,
               COUNT(*), COUNT(DISTINCT u.customer_id), SUM(u.cancelled),
               SUM(CASE WHEN u.outcome = %(outcome_impression)s THEN 1 ELSE 0 END),
               SUM(CASE WHEN u.outcome = %(outcome_click)s THEN 1 ELSE 0 END),
               SUM(CASE WHEN u.outcome = %(outcome_accept)s THEN 1 ELSE 0 END),
               SUM(CASE WHEN u.outcome = %(outcome_decline)s THEN 1 ELSE 0 END),
               SUM(CASE WHEN u.outcome = %(outcome_dismiss)s THEN 1 ELSE 0 END),
               SUM(u.converted),
               SUM(CASE WHEN u.converted = 1 THEN COALESCE(o.value, p.annual_value) ELSE 0 END),
               SUM(u.opted_out)
        FROM (
            SELECT units.*, {self.converted_sql()} AS converted,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {_t(Consent)} k
                       WHERE k.customer_id = units.customer_id AND k.status = %(revoked)s
                         AND k.channel IN (units.channel, %(all_channels)s)
                         AND k.captured_at >= %(start)s AND k.captured_at < %(window_end_at)s
                   ) THEN 1 ELSE 0 END AS opted_out
            FROM units
        ) u
        JOIN {_t(Offer)} o ON o.id = u.offer_id
        JOIN {_t(Product)} p ON p.id = o.product_id
        GROUP BY u.grp, u.campaign_id, u.offer_id, u.channel
        """
        return self._run(sql)

    def segments(self) -> list[tuple]:
        """(group, campaign, offer, age band, tenure band, holdings band, units,
        conversions)."""
        held = f"""(SELECT COUNT(*) FROM {_t(Holding)} h2
                    WHERE h2.customer_id = u.customer_id
                      AND (h2.opened_at IS NULL OR h2.opened_at < %(day)s)
                      AND (h2.closed_at IS NULL OR h2.closed_at >= %(day)s))"""
        age = segments.age_band_sql("cu.birth_date", self.day)
        tenure = segments.tenure_band_sql("cu.customer_since", self.day)
        holdings = segments.holdings_band_sql(held)
        sql = f"""
        WITH {self.units_cte()}
        SELECT u.grp, u.campaign_id, u.offer_id, {age.sql}, {tenure.sql}, {holdings.sql},
               COUNT(*), SUM(u.converted)
        FROM (SELECT units.*, {self.converted_sql()} AS converted FROM units) u
        JOIN {_t(Customer)} cu ON cu.id = u.customer_id
        GROUP BY 1, 2, 3, 4, 5, 6
        """
        return self._run(sql, {**age.params, **tenure.params, **holdings.params})

    def duplicates(self) -> list[tuple]:
        """(campaign, offer or None, channel, count): held back as presented elsewhere by
        the engine, or cancelled for it at send time."""
        source, item = _json_items("d", "suppressed")
        engine_sql = f"""
        SELECT COALESCE(d.campaign_id, cp.id), o.id, COALESCE({item.format(key="channel")}, ''),
               COUNT(*)
        FROM {_t(Decision)} d
        {source}
        LEFT JOIN {_t(Offer)} o ON o.code = {item.format(key="offer_code")}
        LEFT JOIN {_t(Campaign)} cp ON cp.code = {item.format(key="campaign")}
        WHERE d.created_at >= %(start)s AND d.created_at < %(end)s AND d.shadow = %(no)s
          AND {item.format(key="reason")} = %(presented_elsewhere)s
        GROUP BY 1, 2, 3
        """
        gate_sql = f"""
        SELECT m.campaign_id, m.offer_id, m.channel, COUNT(*)
        FROM {_t(Message)} m
        JOIN {_t(Decision)} d ON d.id = m.decision_id
        WHERE d.created_at >= %(start)s AND d.created_at < %(end)s AND d.shadow = %(no)s
          AND m.cancel_reason = %(presented_elsewhere)s
        GROUP BY 1, 2, 3
        """
        return self._run(engine_sql) + self._run(gate_sql)

    def adoption(self) -> list[tuple]:
        """(campaign, channel, decisions, presented, overridden) on human channels."""
        humans = sorted(HUMAN)
        names = ", ".join(f"%(human_{i})s" for i in range(len(humans)))
        sql = f"""
        SELECT x.campaign_id, x.channel, COUNT(*),
               SUM(CASE WHEN EXISTS (SELECT 1 FROM {_t(Response)} r
                                     WHERE r.decision_id = x.decision_id) THEN 1 ELSE 0 END),
               SUM(CASE WHEN EXISTS (SELECT 1 FROM {_t(Override)} v
                                     WHERE v.decision_id = x.decision_id) THEN 1 ELSE 0 END)
        FROM (
            SELECT DISTINCT c.decision_id AS decision_id, c.campaign_id AS campaign_id,
                   c.channel AS channel
            FROM {_t(Contact)} c
            JOIN {_t(Decision)} d ON d.id = c.decision_id
            WHERE d.created_at >= %(start)s AND d.created_at < %(end)s
              AND d.mode = %(inbound)s AND c.channel IN ({names})
        ) x
        GROUP BY 1, 2
        """
        return self._run(sql, {f"human_{i}": channel for i, channel in enumerate(humans)})

    def latency(self) -> list[tuple]:
        """(campaign, bucket, decisions, max ms) for event decisions that released."""
        ms = _milliseconds("d.created_at", "e.received_at")
        cases = " ".join(
            f"WHEN x.ms <= {float(edge)!r} THEN {index}"
            for index, edge in enumerate(LATENCY_BUCKETS_MS)
        )
        sql = f"""
        SELECT x.campaign_id, CASE {cases} ELSE {len(LATENCY_BUCKETS_MS)} END, COUNT(*),
               MAX(x.ms)
        FROM (
            SELECT d.campaign_id AS campaign_id,
                   CASE WHEN {ms} < 0 THEN 0 ELSE {ms} END AS ms
            FROM {_t(Decision)} d
            JOIN {_t(Event)} e ON e.id = d.event_id
            WHERE d.created_at >= %(start)s AND d.created_at < %(end)s
              AND d.mode = %(event)s AND d.offers_released > 0 AND d.shadow = %(no)s
              AND d.campaign_id IS NOT NULL
        ) x
        GROUP BY 1, 2
        """
        return self._run(sql)


# --- building the rows -----------------------------------------------------------------


def _offer_rows(query: _Day) -> list[OfferDay]:
    rows: dict[tuple, OfferDay] = {}
    for group, campaign, offer, channel, *figures in query.offers():
        (units, customers, cancelled, impressions, clicks, accepts, declines, dismisses) = (
            int(value or 0) for value in figures[:8]
        )
        rows[(campaign, offer, channel or "", group)] = OfferDay(
            day=query.day,
            campaign_id=campaign,
            offer_id=offer,
            channel=channel or "",
            group=group,
            units=units,
            customers=customers,
            cancelled=cancelled,
            impressions=impressions,
            clicks=clicks,
            accepts=accepts,
            declines=declines,
            dismisses=dismisses,
            conversions=int(figures[8] or 0),
            revenue=Decimal(str(figures[9] or 0)).quantize(Decimal("0.01")),
            opt_outs=int(figures[10] or 0),
        )
    for campaign, offer, channel, count in query.duplicates():
        key = (campaign, offer, channel or "", Group.TREATED.value)
        row = rows.get(key)
        if row is None:
            row = rows[key] = OfferDay(
                day=query.day,
                campaign_id=campaign,
                offer_id=offer,
                channel=channel or "",
                group=Group.TREATED,
            )
        row.duplicates_prevented += int(count)
    return list(rows.values())


def _segment_rows(query: _Day) -> list[SegmentDay]:
    return [
        SegmentDay(
            day=query.day,
            campaign_id=campaign,
            offer_id=offer,
            group=group,
            age_band=age,
            tenure_band=tenure,
            holdings_band=held,
            units=int(units),
            conversions=int(conversions or 0),
        )
        for group, campaign, offer, age, tenure, held, units, conversions in query.segments()
    ]


def _adoption_rows(query: _Day) -> list[AdoptionDay]:
    return [
        AdoptionDay(
            day=query.day,
            campaign_id=campaign,
            channel=channel,
            decisions=int(decisions),
            presented=int(presented or 0),
            overridden=int(overridden or 0),
        )
        for campaign, channel, decisions, presented, overridden in query.adoption()
    ]


def _latency_rows(query: _Day) -> list[LatencyDay]:
    histograms: dict[int, list[int]] = defaultdict(lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    longest: dict[int, float] = defaultdict(float)
    for campaign, bucket, count, max_ms in query.latency():
        histograms[campaign][int(bucket)] += int(count)
        longest[campaign] = max(longest[campaign], float(max_ms or 0))
    return [
        LatencyDay(
            day=query.day,
            campaign_id=campaign,
            decisions=sum(buckets),
            buckets=buckets,
            max_ms=round(longest[campaign], 3),
        )
        for campaign, buckets in histograms.items()
    ]


def kpis_compute_day(
    *, actor: Any, day: datetime.date, window_days: int | None = None
) -> DayComputed:
    """Compute (or recompute) one bank-local day's results, replacing what it had."""
    if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
        raise ValidationFailed("A day is a date.", fields={"day": ["must be a date"]})
    window = attribution_days() if window_days is None else window_days
    if window < 1:
        raise ValidationFailed(
            "The attribution window is at least a day.", fields={"window_days": ["must be >= 1"]}
        )
    started = time.perf_counter()
    query = _Day(day, window)
    with transaction.atomic():
        # The day's lock: a second computation of the same day waits, then replaces.
        KpiComputation.objects.get_or_create(
            day=day,
            defaults={
                "computed_at": timezone.now(),
                "attribution_days": window,
                "computed_by": actor_name(actor)[:150],
            },
        )
        computation = KpiComputation.objects.select_for_update().get(day=day)
        offer_rows = _offer_rows(query)
        segment_rows = _segment_rows(query)
        adoption_rows = _adoption_rows(query)
        latency_rows = _latency_rows(query)
        for model in (OfferDay, SegmentDay, AdoptionDay, LatencyDay):
            model.objects.filter(day=day).delete()
        OfferDay.objects.bulk_create(offer_rows, batch_size=1_000)
        SegmentDay.objects.bulk_create(segment_rows, batch_size=1_000)
        AdoptionDay.objects.bulk_create(adoption_rows, batch_size=1_000)
        LatencyDay.objects.bulk_create(latency_rows, batch_size=1_000)
        rows = len(offer_rows) + len(segment_rows) + len(adoption_rows) + len(latency_rows)
        seconds = time.perf_counter() - started
        computation.computed_at = timezone.now()
        computation.seconds = round(seconds, 4)
        computation.attribution_days = window
        computation.rows = rows
        computation.computed_by = actor_name(actor)[:150]
        computation.full_clean()
        computation.save()
    treated = sum(r.units for r in offer_rows if r.group == Group.TREATED)
    control = sum(r.units for r in offer_rows if r.group == Group.CONTROL)
    logger.info("results computed", extra={"day": day.isoformat(), "rows": rows})
    return DayComputed(day=day, rows=rows, seconds=seconds, treated=treated, control=control)


def kpi_days(
    *, since: datetime.date | None = None, until: datetime.date | None = None, days: int | None
) -> list[datetime.date]:
    """The days a computation covers: ``since``..``until`` (inclusive), or the last
    ``days`` days through today, or (neither) the attribution window through today."""
    today = bank_today()
    if since is not None or until is not None:
        until = until or today
        since = since or until - datetime.timedelta(days=attribution_days())
        if since > until:
            raise ValidationFailed(
                "The range is reversed: since is after until.",
                fields={"since": [f"{since.isoformat()} is after until {until.isoformat()}"]},
            )
    else:
        count = attribution_days() + 1 if days is None else days
        if count < 1:
            raise ValidationFailed("Compute at least one day.", fields={"days": ["must be >= 1"]})
        until, since = today, today - datetime.timedelta(days=count - 1)
    span = (until - since).days + 1
    if span > MAX_DAYS:
        raise ValidationFailed(
            f"At most {MAX_DAYS} days at a time.", fields={"since": [f"{span} days asked"]}
        )
    return [since + datetime.timedelta(days=offset) for offset in range(span)]


def kpis_compute(*, actor: Any, days: Iterable[datetime.date]) -> list[DayComputed]:
    """Compute each day in its own transaction (a long recompute never holds one lock)."""
    return [kpis_compute_day(actor=actor, day=day) for day in days]
