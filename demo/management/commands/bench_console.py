"""``manage.py bench_console``: the server time of every console page on this database.

Each page is requested in-process with Django's test client, signed in as a demo login
whose role the page admits (``core.permissions``: the view's ``console_roles``), so the
figure is the server's time without the network: URL routing, middleware, the view, its
queries and the template. Each page is requested ``--warm`` times first, then
``--repeat`` times; the p50 and the max are printed with the page's query count and
status, beside a floor measured in the same run (the sign-in page, anonymous: middleware
and a template, no query of the domain). Pages over DESIGN.md's 100 ms are flagged.

The pages that show one object use the busiest one: the customer with the most
decisions (Customer 360, the customer search), the newest batch and inbound decisions,
the newest run and its campaign, the newest offer, a product with a model. A page whose
object does not exist here is listed as skipped, with why. Figures are printed, never
asserted; it writes nothing (reads only), on SQLite or PostgreSQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import resolve, reverse

from campaigns.models import Campaign, CampaignRun
from core.choices import Role
from customers.models import Customer
from decisioning.models import Decision, PropensityModel
from demo.benchmarks import percentile
from demo.people import DEMO_LOGINS
from offers.models import Offer

SLOW_MS = 100.0
FLOOR = "floor: sign-in page (anonymous)"


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    url: str
    # the role to sign in as when the view admits several (else the first one it admits)
    prefer: str | None = None
    # what must be read to the end (a streamed export) for its time to count
    streamed: bool = False


@dataclass(frozen=True, slots=True)
class PageTiming:
    page: Page
    login: str | None
    status: int
    queries: int
    samples_ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def max(self) -> float:
        return max(self.samples_ms)


@dataclass(frozen=True, slots=True)
class Skipped:
    name: str
    why: str


def _busiest_customer() -> Customer | None:
    """The customer with the most decisions (one grouped scan of the decisions)."""
    top = (
        Decision.objects.values("customer_id")
        .annotate(decisions=Count("id"))
        .order_by("-decisions", "customer_id")
        .first()
    )
    if top is None:
        return Customer.objects.order_by("pk").first()
    return Customer.objects.get(pk=top["customer_id"])


def _newest(mode: str | None = None, *, exclude_mode: str | None = None) -> Decision | None:
    queryset = Decision.objects.order_by("-created_at").only("id")
    if mode:
        queryset = queryset.filter(mode=mode)
    if exclude_mode:
        queryset = queryset.exclude(mode=exclude_mode)
    return queryset.first()


def console_pages() -> tuple[list[Page], list[Skipped], dict[str, Any]]:
    """Every console page a GET opens (each app's URL conf), on this database's objects."""
    pages: list[Page] = [
        Page("dashboard (home)", reverse("home"), prefer=Role.ANALYST),
        Page("health", reverse("health")),
        Page("campaign list", reverse("campaigns:campaign_list"), prefer=Role.MARKETER),
        Page("campaign builder (new)", reverse("campaigns:campaign_create")),
        Page("contact policy", reverse("campaigns:policy"), prefer=Role.MARKETER),
        Page("offer list", reverse("offers:offer_list"), prefer=Role.MARKETER),
        Page("product list", reverse("offers:product_list"), prefer=Role.MARKETER),
        Page("approval queue (pending)", reverse("compliance:approval_list")),
        Page("approval queue (any status)", reverse("compliance:approval_list") + "?status="),
        Page("audit trail", reverse("compliance:audit_list"), prefer=Role.COMPLIANCE),
        Page(
            "audit export, CSV of one kind, streamed",
            reverse("compliance:audit_export", args=["csv"]) + "?kind=campaign",
            streamed=True,
        ),
        Page("erasure requests", reverse("decisioning:erasure_list")),
        Page("customer search (form)", reverse("customers:search"), prefer=Role.MARKETER),
        Page("decision ledger", reverse("decisioning:decision_list"), prefer=Role.ANALYST),
        Page("results (every campaign)", reverse("results:dashboard"), prefer=Role.ANALYST),
        Page("models", reverse("decisioning:model_list"), prefer=Role.ANALYST),
    ]
    skipped: list[Skipped] = []
    objects: dict[str, Any] = {}

    campaign = (
        Campaign.objects.filter(runs__isnull=False).order_by("-runs__started_at").first()
        or Campaign.objects.order_by("pk").first()
    )
    if campaign is None:
        skipped.append(Skipped("campaign pages", "no campaign"))
    else:
        objects["campaign"] = campaign.code
        pages += [
            Page(
                f"campaign detail ({campaign.code})",
                reverse("campaigns:campaign_detail", args=[campaign.pk]),
                prefer=Role.MARKETER,
            ),
            Page(
                f"campaign builder (edit {campaign.code})",
                reverse("campaigns:campaign_edit", args=[campaign.pk]),
            ),
            Page(
                f"results of {campaign.code}",
                reverse("results:campaign", args=[campaign.pk]),
                prefer=Role.ANALYST,
            ),
            Page(
                f"decision ledger, campaign {campaign.code}",
                reverse("decisioning:decision_list") + f"?campaign={campaign.pk}",
                prefer=Role.ANALYST,
            ),
        ]
    run = CampaignRun.objects.order_by("-started_at", "-pk").first()
    if run is None:
        skipped.append(Skipped("run detail", "no batch run"))
    else:
        pages.append(
            Page(
                f"run detail (run {run.pk}, {run.total_customers:,} customers)",
                reverse("campaigns:run_detail", args=[run.pk]),
                prefer=Role.MARKETER,
            )
        )
    offer = Offer.objects.order_by("-pk").first()
    if offer is None:
        skipped.append(Skipped("offer detail", "no offer"))
    else:
        pages.append(
            Page(
                f"offer detail ({offer.code})",
                reverse("offers:offer_detail", args=[offer.pk]),
                prefer=Role.MARKETER,
            )
        )
    customer = _busiest_customer()
    if customer is None:
        skipped.append(Skipped("customer pages", "no customer"))
    else:
        decisions = Decision.objects.filter(customer=customer).count()
        objects["customer"] = (customer.external_id, decisions)
        pages += [
            Page(
                f"customer search, one hit ({customer.external_id})",
                reverse("customers:search") + f"?q={customer.external_id}&go=0",
                prefer=Role.MARKETER,
            ),
            Page(
                f"Customer 360 ({customer.external_id}, {decisions} decisions)",
                reverse("decisioning:customer_360", args=[customer.external_id]),
                prefer=Role.MARKETER,
            ),
            Page(
                "decision ledger, that customer",
                reverse("decisioning:decision_list") + f"?customer={customer.external_id}",
                prefer=Role.ANALYST,
            ),
        ]
    for label, decision in (
        ("batch, replayed", _newest("batch")),
        ("inbound or signal, stored trace", _newest(exclude_mode="batch")),
    ):
        if decision is None:
            skipped.append(Skipped(f"decision detail ({label})", "no such decision"))
            continue
        pages += [
            Page(
                f"decision detail ({label})",
                reverse("decisioning:decision_detail", args=[decision.pk]),
                prefer=Role.ANALYST,
            ),
            Page(
                f"decision explanation panel ({label})",
                reverse("decisioning:decision_explain", args=[decision.pk]),
                prefer=Role.ANALYST,
            ),
        ]
    model = PropensityModel.objects.select_related("product").order_by("-pk").first()
    if model is None:
        skipped.append(Skipped("model detail", "no product has a model"))
    else:
        pages.append(
            Page(
                f"model detail ({model.product.code})",
                reverse("decisioning:model_detail", args=[model.product.code]),
                prefer=Role.ANALYST,
            )
        )
    return pages, skipped, objects


def _logins() -> dict[str, User]:
    """One active demo login per console role (``seed_demo``'s people)."""
    by_role: dict[str, User] = {}
    for login in DEMO_LOGINS:
        user = User.objects.filter(username=login.username, is_active=True).first()
        if user is not None and str(login.group) not in by_role:
            by_role[str(login.group)] = user
    return by_role


def _admitted(url: str) -> frozenset[str]:
    view = resolve(url.split("?", 1)[0]).func
    return frozenset(getattr(view, "console_roles", ()))


def _login_for(page: Page, logins: dict[str, User]) -> tuple[str, User] | None:
    admitted = _admitted(page.url)
    order = [page.prefer] if page.prefer else []
    order += [str(role) for role in Role if str(role) not in order]
    for role in order:
        if role in admitted and role in logins:
            return role, logins[role]
    return None


def _request(client: Client, page: Page) -> Any:
    response = client.get(page.url)
    if page.streamed and getattr(response, "streaming", False):
        for _ in response.streaming_content:
            pass
    return response


def time_page(
    client: Client, page: Page, *, warm: int, repeat: int
) -> tuple[int, int, list[float]]:
    """(status, queries of one request, server times in ms) of ``repeat`` requests."""
    for _ in range(warm):
        _request(client, page)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        _request(client, page)
        samples.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        response = _request(client, page)
    return response.status_code, len(captured.captured_queries), samples


def measure(
    *,
    warm: int,
    repeat: int,
    only: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[PageTiming, list[PageTiming], list[Skipped], dict[str, Any]]:
    """The floor and every page's timing (see the module text).

    The test client's host is allowed for the run; the test environment is not set up, so
    templates render as they do in the server (not instrumented to record each context).
    """
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        return _measure(warm=warm, repeat=repeat, only=only or [], progress=progress)


def _measure(
    *, warm: int, repeat: int, only: list[str], progress: Callable[[str], None] | None
) -> tuple[PageTiming, list[PageTiming], list[Skipped], dict[str, Any]]:
    pages, skipped, objects = console_pages()
    if only:
        pages = [page for page in pages if any(part in page.name for part in only)]
    logins = _logins()
    client = Client()
    status, queries, samples = time_page(
        client, Page(FLOOR, reverse("login")), warm=warm, repeat=repeat
    )
    floor = PageTiming(Page(FLOOR, reverse("login")), None, status, queries, tuple(samples))
    timings = []
    for page in pages:
        chosen = _login_for(page, logins)
        if chosen is None:
            skipped.append(Skipped(page.name, "no demo login has a role this page admits"))
            continue
        role, user = chosen
        client.force_login(user)
        if progress:
            progress(page.name)
        status, queries, samples = time_page(client, page, warm=warm, repeat=repeat)
        timings.append(
            PageTiming(page, f"{user.username} ({role})", status, queries, tuple(samples))
        )
    return floor, timings, skipped, objects


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repeat", type=int, default=15, help="timed requests per page")
        parser.add_argument("--warm", type=int, default=2, help="untimed requests first")
        parser.add_argument(
            "--only", action="append", default=[], help="time only pages whose name has this"
        )

    def handle(self, *args: Any, repeat: int, warm: int, only: list[str], **options: Any) -> None:
        if repeat < 1 or warm < 0:
            raise CommandError("--repeat must be at least 1 and --warm at least 0")
        if not _logins():
            raise CommandError("no demo login here: run seed_demo first")
        decisions = Decision.objects.count()
        floor, timings, skipped, objects = measure(
            warm=warm,
            repeat=repeat,
            only=only,
            progress=lambda name: self.stderr.write(f"  {name} ..."),
        )
        self.line(
            f"Console pages on {connection.vendor}: {decisions:,} decisions, "
            f"{Customer.objects.count():,} customers; {warm} warm-up + {repeat} timed "
            f"requests each, server time in-process (ms); DEBUG={settings.DEBUG}"
        )
        if "customer" in objects:
            external_id, count = objects["customer"]
            self.line(f"busiest customer: {external_id} with {count:,} decisions")
        self.line(f"\n{'page':<62}{'p50':>9}{'max':>9}{'queries':>9}  status  signed in as")
        self.row(floor)
        for timing in timings:
            self.row(timing)
        slow = [t for t in timings if t.p50 > SLOW_MS]
        for item in skipped:
            self.line(f"  skipped: {item.name} ({item.why})")
        self.line(
            f"\n{len(timings)} pages; over {SLOW_MS:.0f} ms at p50: {len(slow)}"
            + (f" ({', '.join(t.page.name for t in slow)})" if slow else "")
            + f"; not 200: {sum(t.status != 200 for t in timings)}"
        )
        self.line(f"machine load average (1 min) at the end: {os.getloadavg()[0]:.1f}")

    def row(self, timing: PageTiming) -> None:
        flag = "  > 100 ms" if timing.p50 > SLOW_MS and timing.page.name != FLOOR else ""
        self.line(
            f"{timing.page.name[:61]:<62}{timing.p50:9.1f}{timing.max:9.1f}{timing.queries:9d}"
            f"  {timing.status:>6}  {timing.login or 'anonymous'}{flag}"
        )

    def line(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
