"""The results' filters — date range, campaign, offer, channel — read from query
parameters the same way by the API and the console, every bad value a field error."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from campaigns.models import Campaign
from core.choices import Channel
from core.exceptions import ValidationFailed
from offers.models import Offer
from results.selectors import DEFAULT_DAYS, MAX_RANGE_DAYS, Filters
from results.services import bank_today

PARAMETERS = ("campaign", "offer", "channel", "since", "until")


def _date(value: str, name: str, errors: dict[str, list[str]]) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        errors[name] = [f"{value[:40]!r} is not a date; give YYYY-MM-DD"]
        return None


def results_filters(params: Mapping[str, str], *, campaign: Campaign | None = None) -> Filters:
    """Filters from query parameters (each given at most once, none blank).

    ``since``/``until`` are inclusive bank-local days; without them the last
    ``DEFAULT_DAYS`` days through today. ``campaign`` given by the caller (a campaign's
    own page) wins over the parameter."""
    errors: dict[str, list[str]] = {}
    values = {name: params.get(name) for name in PARAMETERS}
    for name, value in values.items():
        if value is not None and not value.strip():
            errors[name] = ["may not be blank; leave it out for no filter"]
    today = bank_today()
    since = until = None
    if values["since"] and "since" not in errors:
        since = _date(values["since"].strip(), "since", errors)
    if values["until"] and "until" not in errors:
        until = _date(values["until"].strip(), "until", errors)
    if since and until and since > until:
        errors["until"] = [
            f"the range is reversed: until {until.isoformat()} is before since {since.isoformat()}"
        ]
    if campaign is None and values["campaign"] and "campaign" not in errors:
        campaign = Campaign.objects.filter(code=values["campaign"].strip()).first()
        if campaign is None:
            errors["campaign"] = [f"no campaign has the code {values['campaign'][:48]!r}"]
    offer = None
    if values["offer"] and "offer" not in errors:
        offer = Offer.objects.filter(code=values["offer"].strip()).first()
        if offer is None:
            errors["offer"] = [f"no offer has the code {values['offer'][:48]!r}"]
    channel = (values["channel"] or "").strip()
    if channel and "channel" not in errors and channel not in Channel.values:
        errors["channel"] = [f"must be one of {', '.join(Channel.values)}"]
    if errors:
        raise ValidationFailed("The results filters are not valid.", fields=errors)
    until = until or (max(today, since) if since else today)
    since = since or until - datetime.timedelta(days=DEFAULT_DAYS - 1)
    span = (until - since).days + 1
    if span > MAX_RANGE_DAYS:
        raise ValidationFailed(
            f"The range is {span} days; at most {MAX_RANGE_DAYS} at a time.",
            fields={"since": [f"at most {MAX_RANGE_DAYS} days before until"]},
        )
    return Filters(since=since, until=until, campaign=campaign, offer=offer, channel=channel)
