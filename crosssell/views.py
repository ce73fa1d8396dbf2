"""The roof's screens: sign-in, the home dashboard per role, and operators' health page.

The dashboard reads every layer, which only the roof may do. Its figures are real,
computed over today's decisions in the bank's time zone. The count of today's decisions
is the only figure that grows with volume, so it is kept incrementally (see
``_decisions_today``) and each request scans only what is new.
"""

from __future__ import annotations

import datetime
import time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Max, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.choices import CampaignStatus, RunStatus
from campaigns.models import Campaign, CampaignRun
from compliance.choices import ApprovalStatus, ErasureStatus
from compliance.models import ApprovalRequest, CatalogVersion, ErasureRequest
from core import permissions
from core.htmx import render_page
from core.permissions import role_required, roles_of
from crosssell.models import WorkerHeartbeat
from customers.choices import EventStatus
from customers.models import Event
from decisioning.choices import MessageStatus
from decisioning.models import Decision, Message
from ledger.models import AuditRecord, AuditSeal

# Decisions older than this are assumed committed (see ``_decisions_today``).
SETTLE = datetime.timedelta(seconds=60)
SETTLED_CACHE_SECONDS = 36 * 3600
HEARTBEAT_STALE_AFTER = datetime.timedelta(seconds=90)
# Outcomes that are not suppressions (the engine's ``reasons.RELEASED`` and friends).
NOT_SUPPRESSION = frozenset({"", "released", "control_group", "no_candidates"})


class LoginView(auth_views.LoginView):
    """Sign-in. django-axes (settings: ``AXES_*``) counts wrong passwords per username and
    address; a locked pair is answered by ``login_locked_out`` instead."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


def login_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The sign-in page again, 429, saying sign-in is locked and for how long
    (``AXES_LOCKOUT_CALLABLE``: called for every attempt while the lockout lasts)."""
    username = request.POST.get("username", "") if request.method == "POST" else ""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next", "") or request.GET.get("next", ""),
        "locked_out": True,
        "lockout_minutes": minutes,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, LoginView.template_name, context, status=429)


def login_client_ip(request: HttpRequest) -> str:
    """The address sign-in failures are counted against (``AXES_CLIENT_IP_CALLABLE``).

    Behind ``CROSSSELL_PROXY_COUNT`` proxies that each append the address they saw to
    X-Forwarded-For, the client is the entry the outermost one appended; whatever a client
    put in front of it is ignored, so it cannot pick its own address.
    """
    proxies = settings.CROSSSELL_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


class LogoutView(auth_views.LogoutView):
    pass


def bank_today_start(now: datetime.datetime | None = None) -> datetime.datetime:
    """Midnight today in the bank's time zone, as an aware datetime."""
    zone = ZoneInfo(settings.BANK_TIME_ZONE)
    local = (now or timezone.now()).astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


Counts = dict[str, dict[str, int]]  # outcome -> {decisions, released, control, shadow}


def _aggregate(start: datetime.datetime, end: datetime.datetime | None = None) -> Counts:
    """Decisions in [start, end) by outcome: one GROUP BY over a range of the time index."""
    queryset = Decision.objects.filter(created_at__gte=start)
    if end is not None:
        queryset = queryset.filter(created_at__lt=end)
    rows = (
        queryset.values("outcome_reason")
        .annotate(
            decisions=Count("id"),
            released=Sum("offers_released"),
            control=Count("id", filter=Q(control_group=True)),
            shadow=Count("id", filter=Q(shadow=True)),
        )
        .order_by()
    )
    return {
        row["outcome_reason"]: {
            "decisions": row["decisions"],
            "released": row["released"] or 0,
            "control": row["control"],
            "shadow": row["shadow"],
        }
        for row in rows
    }


def _merge(*parts: Counts) -> Counts:
    merged: Counts = {}
    for part in parts:
        for outcome, counts in part.items():
            into = merged.setdefault(outcome, dict.fromkeys(counts, 0))
            for name, value in counts.items():
                into[name] = into.get(name, 0) + value
    return merged


def _decisions_today() -> dict[str, Any]:
    """Today's decisions by outcome, computed incrementally so the cost stays bounded.

    Decisions older than ``SETTLE`` are assumed committed: their counts are kept in the
    cache (per bank day) up to a settled mark that moves forward on each request, so a
    request aggregates only what arrived since the previous one plus the last ``SETTLE``
    window — two small range scans of ``decision_time_idx`` however many decisions the day
    holds. A decision committed more than ``SETTLE`` after its own timestamp would be
    missed until the next day; batch chunks and real-time decisions commit within seconds.
    """
    start = bank_today_start()
    now = timezone.now()
    settled = now - SETTLE
    key = f"console:dashboard:settled:{start.date().isoformat()}"
    state = cache.get(key)
    if state is None or state["until"] < start:
        state = {"until": start, "counts": {}}
    if settled > state["until"]:
        state = {
            "until": settled,
            "counts": _merge(state["counts"], _aggregate(state["until"], settled)),
        }
        cache.set(key, state, SETTLED_CACHE_SECONDS)
    counts = _merge(state["counts"], _aggregate(max(state["until"], start)))

    reasons = sorted(
        (
            {"reason": outcome, "count": values["decisions"]}
            for outcome, values in counts.items()
            if outcome not in NOT_SUPPRESSION
        ),
        key=lambda item: (-item["count"], item["reason"]),
    )
    top = reasons[0]["count"] if reasons else 0
    for item in reasons:
        item["width"] = round(100 * item["count"] / top) if top else 0
    return {
        "since": start,
        "computed_at": now,
        "decisions": sum(values["decisions"] for values in counts.values()),
        "offers_released": sum(values["released"] for values in counts.values()),
        "control_group": sum(values["control"] for values in counts.values()),
        "shadow": sum(values["shadow"] for values in counts.values()),
        "suppression_reasons": reasons,
    }


def _ledger_status() -> dict[str, Any]:
    last_seal = AuditSeal.objects.order_by("-seq").first()
    newest = AuditRecord.objects.aggregate(newest=Max("seq"))["newest"] or 0
    sealed_through = last_seal.last_record_seq if last_seal else 0
    unsealed = (
        AuditRecord.objects.filter(seq__gt=sealed_through).count() if newest > sealed_through else 0
    )
    return {
        "last_seal": last_seal,
        "newest_seq": newest,
        "sealed_through": sealed_through,
        "unsealed": unsealed,
        "seal_age": (timezone.now() - last_seal.created_at) if last_seal else None,
    }


def _approvals_waiting() -> dict[str, Any]:
    return ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).aggregate(
        waiting=Count("id"),
        blocking=Count("id", filter=Q(has_blocking_findings=True)),
        oldest=Min("submitted_at"),
    )


@role_required(permissions.ANY_ROLE)
def home(request: HttpRequest) -> HttpResponse:
    roles = roles_of(request.user)
    context: dict[str, Any] = {"roles": roles}
    sees_decisions = roles & {permissions.MARKETER, permissions.ANALYST, permissions.COMPLIANCE}
    if sees_decisions:
        context["today"] = _decisions_today()
    if roles & {permissions.MARKETER, permissions.ANALYST, permissions.ADMIN}:
        running = Campaign.objects.filter(status=CampaignStatus.RUNNING)
        context["running_campaigns"] = list(running.order_by("-priority", "code")[:8])
        context["running_count"] = running.count()
        context["active_runs"] = list(
            CampaignRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
            .select_related("campaign")
            .order_by("-created_at")[:5]
        )
    if permissions.MARKETER in roles:
        context["my_changes_requested"] = ApprovalRequest.objects.filter(
            submitted_by=request.user,
            status__in=[ApprovalStatus.CHANGES_REQUESTED, ApprovalStatus.REJECTED],
        ).order_by("-decided_at")[:5]
        context["my_pending"] = ApprovalRequest.objects.filter(
            submitted_by=request.user, status=ApprovalStatus.PENDING
        ).count()
    if roles & {permissions.COMPLIANCE, permissions.ADMIN}:
        context["approvals"] = _approvals_waiting()
        context["ledger"] = _ledger_status()
        context["erasures_pending"] = ErasureRequest.objects.filter(
            status=ErasureStatus.PENDING
        ).count()
    return render_page(request, "crosssell/home.html", context)


def _database_check() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
        ok, error = True, ""
    except Exception as exc:  # shown to the operator, never raised
        ok, error, unapplied = False, str(exc), []
    return {
        "ok": ok and not unapplied,
        "vendor": connection.vendor,
        "name": str(connection.settings_dict.get("NAME", "")),
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "unapplied_migrations": [
            f"{migration.app_label}.{migration.name}" for migration, _ in unapplied
        ],
        "error": error,
    }


def _broker_description() -> str:
    url = settings.CELERY_BROKER_URL
    if not url:
        return ""
    # Never show a password.
    scheme, _, rest = url.partition("://")
    host = rest.rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


# Past this many, the health page says "10,000+": after a 1M batch run 706k messages
# wait, and counting them exactly scanned them all on every 10-second refresh (116-201 ms).
QUEUE_COUNT_CAP = 10_000


def _queue_counts(now: datetime.datetime) -> dict[str, Any]:
    """Queued, leased and due messages, each counted up to ``QUEUE_COUNT_CAP`` over its
    partial index; ``<name>_capped`` says the real figure is larger."""
    queued = Message.objects.filter(status=MessageStatus.QUEUED)
    counts: dict[str, Any] = {}
    for name, rows in (
        ("queued", queued),
        ("leased", Message.objects.filter(status=MessageStatus.LEASED)),
        ("due", queued.filter(deliver_after__lte=now)),
    ):
        found = rows.values("pk")[: QUEUE_COUNT_CAP + 1].count()
        counts[name] = min(found, QUEUE_COUNT_CAP)
        counts[f"{name}_capped"] = found > QUEUE_COUNT_CAP
    return counts


@role_required(permissions.OPERATIONS)
def health(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    heartbeat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    eager = bool(settings.CELERY_TASK_ALWAYS_EAGER)
    heartbeat_age = (now - heartbeat.seen_at) if heartbeat else None
    worker_ok = eager or (heartbeat_age is not None and heartbeat_age <= HEARTBEAT_STALE_AFTER)
    # not "messages": that name is the flash messages' in every template
    queue = _queue_counts(now)
    catalog = CatalogVersion.objects.filter(pk=1).first()
    context = {
        "now": now,
        "database": _database_check(),
        "celery": {
            "eager": eager,
            "broker": _broker_description(),
            "heartbeat": heartbeat,
            "heartbeat_age": heartbeat_age,
            "ok": worker_ok,
            "stale_after": int(HEARTBEAT_STALE_AFTER.total_seconds()),
        },
        "ledger": _ledger_status(),
        "queue": queue,
        "unresolved_events": Event.objects.filter(status=EventStatus.UNRESOLVED).count(),
        "runs": list(
            CampaignRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
            .select_related("campaign")
            .order_by("-created_at")[:10]
        ),
        "catalog": catalog,
        "debug": settings.DEBUG,
        "settings_module": settings.SETTINGS_MODULE,
    }
    return render_page(
        request, "crosssell/health.html", context, partial="crosssell/partials/health.html"
    )
