"""What is in the demo bank, as readable lines for the terminal."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from campaigns.models import Campaign
from compliance.choices import ConsentChannel, ConsentStatus
from compliance.models import Consent, DoNotContact
from core.choices import Channel, Role
from core.models import ApiClient
from customers.models import Customer, Holding
from decisioning.choices import Outcome
from decisioning.models import PropensityModel, Response
from demo.activity import triggers_at_work
from demo.catalog import BANK_NAME
from demo.people import DEMO_LOGINS, api_client_name
from demo.seed import SeedResult
from offers.choices import OfferKind, ProductFamily
from offers.models import Offer, Product


@dataclass(frozen=True, slots=True)
class BankSummary:
    products_by_family: dict[str, int]
    offers_by_kind: dict[str, int]
    campaigns_by_kind_status: dict[tuple[str, str], int]
    customers: int
    open_holdings: int
    consents_granted: dict[str, int]
    global_opt_outs: int
    do_not_contact: int
    responses_by_outcome: dict[str, int]
    channel_clients: dict[str, str]  # channel -> key prefix of its demo client
    # product code -> (version, status, held-out AUC) of its newest model
    model_auc: dict[str, tuple[int, str, float | None]] = field(default_factory=dict)


def _counts(queryset: QuerySet, *fields: str) -> dict:
    rows = queryset.values(*fields).annotate(n=Count("pk")).order_by()
    if len(fields) == 1:
        return {row[fields[0]]: row["n"] for row in rows}
    return {tuple(row[f] for f in fields): row["n"] for row in rows}


def bank_summary() -> BankSummary:
    clients = ApiClient.objects.filter(
        role=Role.CHANNEL, name__in=[api_client_name(c) for c in Channel.values]
    ).values_list("name", "key_prefix")
    prefixes = dict(clients)
    return BankSummary(
        products_by_family=_counts(Product.objects.all(), "family"),
        offers_by_kind=_counts(Offer.objects.all(), "kind"),
        campaigns_by_kind_status=_counts(Campaign.objects.all(), "kind", "status"),
        customers=Customer.objects.count(),
        open_holdings=Holding.objects.filter(closed_at__isnull=True).count(),
        consents_granted=_counts(Consent.objects.filter(status=ConsentStatus.GRANTED), "channel"),
        global_opt_outs=Consent.objects.filter(
            channel=ConsentChannel.ALL, status=ConsentStatus.REVOKED
        ).count(),
        do_not_contact=DoNotContact.objects.count(),
        responses_by_outcome=_counts(Response.objects.all(), "outcome"),
        channel_clients={
            c: prefixes[api_client_name(c)]
            for c in Channel.values
            if api_client_name(c) in prefixes
        },
        model_auc=_model_auc(),
    )


def _model_auc() -> dict[str, tuple[int, str, float | None]]:
    """Each product's active model, else its newest version."""
    found: dict[str, tuple[int, str, float | None]] = {}
    rows = PropensityModel.objects.order_by("product__code", "-version").values_list(
        "product__code", "version", "status", "auc"
    )
    for code, version, status, auc in rows:
        if code not in found or (status == "active" and found[code][1] != "active"):
            found[code] = (version, status, auc)
    return found


def model_lines(models: Mapping[str, tuple[int, str, float | None]]) -> list[str]:
    """One line per product: its model's held-out ROC AUC, or the fallback."""
    if not models:
        return ["  Models:     none trained (propensity from smoothed acceptance rates)"]
    lines = [f"  Models:     {len(models)} products (held-out ROC AUC):"]
    for code, (version, status, auc) in sorted(models.items()):
        figure = "n/a" if auc is None else f"{auc:.3f}"
        note = "" if status == "active" else " — not active, smoothed acceptance rate used"
        lines.append(f"    {code:<22} v{version} AUC {figure} ({status}){note}")
    return lines


def lift_lines(days: int = 30) -> list[str]:
    """The lift of each demo campaign over the last ``days`` days, with its interval."""
    from results.selectors import Filters, kpi_report
    from results.services import bank_today

    until = bank_today()
    since = until - datetime.timedelta(days=days - 1)
    lines = [f"  Lift:       conversion, treated minus control, {since} to {until} (95 % CI, p):"]
    shown = 0
    for campaign in Campaign.objects.order_by("code"):
        report = kpi_report(Filters(since=since, until=until, campaign=campaign))
        lift = report.lift
        if not lift.treated.trials and not lift.control.trials:
            continue
        shown += 1
        if lift.result is None:
            lines.append(f"    {campaign.code:<24} {lift.reason}")
            continue
        r = lift.result
        lines.append(
            f"    {campaign.code:<24} {r.difference * 100:+.2f} pp "
            f"[{r.ci_low * 100:+.2f}, {r.ci_high * 100:+.2f}], p {r.p_value:.3g} "
            f"({lift.treated.successes:,}/{lift.treated.trials:,} treated, "
            f"{lift.control.successes:,}/{lift.control.trials:,} control)"
        )
    if not shown:
        return ["  Lift:       no campaign results computed yet (manage.py compute_kpis)"]
    return lines


def _breakdown(counts: Mapping[str, int], order: list[str]) -> str:
    known = [key for key in order if counts.get(key)]
    extra = sorted(key for key in counts if key not in order and counts[key])
    return ", ".join(f"{key} {counts[key]:,}" for key in known + extra) or "none"


def format_bank_summary(
    summary: BankSummary, *, api_keys: Mapping[str, str] | None = None
) -> list[str]:
    """The bank at a glance, then API keys and demo logins."""
    api_keys = api_keys or {}
    products = sum(summary.products_by_family.values())
    offers = sum(summary.offers_by_kind.values())
    campaigns = sum(summary.campaigns_by_kind_status.values())
    responses = sum(summary.responses_by_outcome.values())
    campaign_parts = ", ".join(
        f"{kind} {status} {n}"
        for (kind, status), n in sorted(summary.campaigns_by_kind_status.items())
    )
    lines = [
        f"{BANK_NAME} (demo bank)",
        f"  Products:   {products:,} ({_breakdown(summary.products_by_family, ProductFamily.values)})",
        f"  Offers:     {offers:,} ({_breakdown(summary.offers_by_kind, OfferKind.values)})",
        f"  Campaigns:  {campaigns:,} ({campaign_parts or 'none'})",
        f"  Customers:  {summary.customers:,} with {summary.open_holdings:,} open holdings",
        f"  Consents granted: {_breakdown(summary.consents_granted, Channel.values)}"
        f" (global opt-outs {summary.global_opt_outs:,}, do-not-contact {summary.do_not_contact:,})",
        f"  Responses:  {responses:,} ({_breakdown(summary.responses_by_outcome, Outcome.values)})",
        *model_lines(summary.model_auc),
        triggers_at_work(),
        *lift_lines(),
        "",
        "API clients (one per channel; send Authorization: Token <key>):",
    ]
    for channel in Channel.values:
        name = api_client_name(channel)
        if channel in api_keys:
            lines.append(f"  {channel:<15} {name:<20} key {api_keys[channel]}")
        elif channel in summary.channel_clients:
            lines.append(
                f"  {channel:<15} {name:<20} key {summary.channel_clients[channel]}... "
                "(shown only when created; make another with manage.py create_api_client)"
            )
    lines += ["", "Demo logins (local demo only):"]
    for login in DEMO_LOGINS:
        lines.append(f"  {login.username:<8} password {login.password:<13} {login.description}")
    return lines


def seed_report(result: SeedResult) -> list[str]:
    """What ``seed_demo`` wrote, how long it took, and how to log in."""
    options = result.options
    lines = [
        f"Seeded {options.customers:,} customers (seed {options.seed}, as of "
        f"{options.as_of.isoformat()}) in {result.seconds:.1f}s:",
    ]
    for label, count in sorted(result.rows.items()):
        lines.append(f"  {label:<28} {count:>12,} rows")
    if result.users_created:
        lines.append(f"  demo users created: {', '.join(result.users_created)}")
    lines.append("")
    lines += format_bank_summary(bank_summary(), api_keys=result.api_keys)
    return lines
