"""Campaign builder and contact policy forms. They parse input; the services decide."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.choices import BaseChoiceIterator

from campaigns.choices import CampaignKind
from campaigns.models import Campaign, ContactPolicy
from campaigns.services import CAMPAIGN_UPDATABLE
from campaigns.triggers import DEFAULT_MAX_AGE_HOURS
from core.channels import CHANNELS, OUTBOUND
from core.choices import Channel
from core.forms import ConsoleForm, QuickSelect, style_fields
from customers.events import KNOWN_EVENT_TYPES
from offers.choices import OfferStatus
from offers.models import Offer

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def split_list(text: str) -> list[str]:
    """``a, b c`` -> ``["a", "b", "c"]``: commas, spaces or new lines separate items."""
    return [item for item in text.replace(",", " ").split() if item]


class ListChoiceField(forms.MultipleChoiceField):
    """Checkboxes that also take a comma- or space-separated list in one value (what
    the builder posted before it had checkboxes, and what a script may post).

    ``open_choices``: values outside the choices pass through for the service to judge
    (event types: one channels already send, or the bank declares, is valid too).
    """

    def __init__(self, *args: Any, open_choices: bool = False, **kwargs: Any) -> None:
        self.open_choices = open_choices
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> list[str]:
        values = super().to_python([value] if isinstance(value, str) else value)
        return list(dict.fromkeys(item for entry in values for item in split_list(entry)))

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if self.open_choices:
            return
        unknown = [item for item in value if not self.valid_value(item)]
        if unknown:
            raise forms.ValidationError(f"Unknown channel(s): {', '.join(unknown)}.")


def event_type_choices(current: list[str] | None = None) -> list[tuple[str, str]]:
    """The event types a trigger may name: known, declared by the bank, and any the
    campaign names already."""
    names = sorted(
        KNOWN_EVENT_TYPES | set(settings.CROSSSELL_EXTRA_EVENT_TYPES) | set(current or [])
    )
    return [(name, name.replace("_", " ")) for name in names]


def _lines(text: str, what: str) -> list[tuple[int, str, str]]:
    """``event_type: value`` per line (blank lines and ``#`` comments skipped)."""
    rows = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        event_type, separator, value = line.partition(":")
        if not separator or not event_type.strip() or not value.strip():
            raise forms.ValidationError(f"Line {number}: write 'event_type: {what}'.")
        rows.append((number, event_type.strip(), value.strip()))
    return rows


def format_trigger_conditions(conditions: dict[str, Any] | None) -> dict[str, str]:
    """The three trigger text fields of the builder from the stored shape."""
    conditions = conditions or {}
    return {
        "trigger_conditions": "\n".join(
            f"{t}: {c['condition']}" for t, c in conditions.items() if c.get("condition")
        ),
        "trigger_pages": "\n".join(
            f"{t}: {', '.join(c['pages'])}" for t, c in conditions.items() if c.get("pages")
        ),
        "trigger_max_age_hours": "\n".join(
            f"{t}: {c['max_age_hours']}" for t, c in conditions.items() if c.get("max_age_hours")
        ),
    }


class CampaignForm(ConsoleForm):
    code = forms.CharField(max_length=48, help_text="Stable code; never changes.")
    name = forms.CharField(max_length=160)
    kind = forms.ChoiceField(choices=CampaignKind.choices)
    objective = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    starts_at = forms.DateTimeField(required=False, widget=DATETIME)
    ends_at = forms.DateTimeField(required=False, widget=DATETIME)
    audience_rule = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "rule", "spellcheck": "false"}),
        help_text='e.g. age >= 25 and not holds_family("mortgages") and '
        'likelihood("SAVINGS") >= "target". Empty = everyone.',
    )
    trigger_event_types = ListChoiceField(
        required=False,
        open_choices=True,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "checks"}),
        label="Trigger events",
        help_text="Real-time campaigns and journeys: the event types that fire them.",
    )
    trigger_other = forms.CharField(
        required=False,
        label="Other trigger events",
        help_text="An event type not listed above that a channel already sends or the bank "
        "declares (CROSSSELL_EXTRA_EVENT_TYPES), comma separated.",
    )
    trigger_conditions = forms.CharField(
        required=False,
        label="Trigger conditions",
        widget=forms.Textarea(attrs={"rows": 2, "class": "rule", "spellcheck": "false"}),
        help_text="One line per trigger event: event_type: condition on its payload, e.g. "
        'card_transaction: merchant_category in ("fuel") and amount > 0. '
        "No line = every event of that type.",
    )
    trigger_pages = forms.CharField(
        required=False,
        label="Trigger pages",
        widget=forms.Textarea(attrs={"rows": 1, "spellcheck": "false"}),
        help_text="event_type: page patterns matched against the payload's page, e.g. "
        "page_view: /loans/*, /mortgages/*",
    )
    trigger_max_age_hours = forms.CharField(
        required=False,
        label="Maximum event age (hours)",
        widget=forms.Textarea(attrs={"rows": 1, "spellcheck": "false"}),
        help_text=f"event_type: hours; older events fire nothing (default "
        f"{DEFAULT_MAX_AGE_HOURS}; journeys: hours after the wait ended).",
    )
    absence_event_type = forms.CharField(
        required=False,
        max_length=64,
        help_text="Journeys: fire when this event has not followed a trigger…",
    )
    absence_days = forms.IntegerField(required=False, min_value=1, help_text="…within N days.")
    schedule = forms.CharField(
        required=False,
        max_length=64,
        help_text="Batch: crontab (minute hour day-of-month month day-of-week) in the bank's "
        "time zone, e.g. '0 6 * * mon' for every Monday at 06:00.",
    )
    channels = ListChoiceField(
        choices=[(spec.code, f"{spec.label} ({spec.direction.value})") for spec in CHANNELS],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "checks"}),
        help_text="Outbound channels for real-time and batch campaigns, inbound ones for "
        "inbound. Preference follows this order (a campaign keeps its own order for the "
        "channels it already had).",
    )
    control_group_pct = forms.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        initial=Decimal("10"),
        label="Control group (%)",
        help_text="Held out deterministically; their decisions are still recorded.",
    )
    daily_volume_limit = forms.IntegerField(required=False, min_value=0)
    per_customer_cap = forms.IntegerField(required=False, min_value=0)
    priority = forms.IntegerField(initial=0)
    shadow_mode = forms.BooleanField(
        required=False, help_text="Record what it would do against live signals; release nothing."
    )

    UPDATABLE = tuple(sorted(CAMPAIGN_UPDATABLE))

    def __init__(self, *args: Any, instance: Campaign | None = None, **kwargs: Any) -> None:
        if instance is not None:
            initial = {name: getattr(instance, name) for name in ("code", "kind", *self.UPDATABLE)}
            initial["channels"] = list(instance.channels or [])
            initial["trigger_event_types"] = list(instance.trigger_event_types or [])
            initial.update(format_trigger_conditions(instance.trigger_conditions))
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["trigger_event_types"].choices = event_type_choices(
            instance.trigger_event_types if instance is not None else None
        )
        if instance is not None:
            for name in ("code", "kind"):
                self.fields[name].disabled = True
                self.fields[name].required = False

    def clean_channels(self) -> list[str]:
        """Checked channels, in the registry's order; those the campaign had keep its order."""
        chosen = list(self.cleaned_data.get("channels") or [])
        before = [c for c in (self.instance.channels if self.instance else []) if c in chosen]
        return before + [s.code for s in CHANNELS if s.code in chosen and s.code not in before]

    def clean_trigger_event_types(self) -> list[str]:
        return list(self.cleaned_data.get("trigger_event_types") or [])

    def clean(self) -> dict[str, Any]:
        """The three trigger text fields become the service's ``trigger_conditions``;
        the service checks conditions, pages and ages and names what is wrong."""
        cleaned = super().clean() or {}
        if "trigger_event_types" in cleaned:
            others = split_list(cleaned.pop("trigger_other", "") or "")
            cleaned["trigger_event_types"] = list(
                dict.fromkeys([*cleaned["trigger_event_types"], *others])
            )
        entries: dict[str, dict[str, Any]] = {}
        fields = (
            ("trigger_conditions", "condition"),
            ("trigger_pages", "/page/*, /other/*"),
            ("trigger_max_age_hours", "hours"),
        )
        for name, what in fields:
            try:
                rows = _lines(cleaned.get(name) or "", what)
            except forms.ValidationError as error:
                self.add_error(name, error)
                continue
            for number, event_type, text in rows:
                entry = entries.setdefault(event_type, {})
                if name == "trigger_conditions":
                    if "condition" in entry:
                        self.add_error(
                            name, f"Line {number}: {event_type} has a condition already."
                        )
                    entry["condition"] = text
                elif name == "trigger_pages":
                    entry.setdefault("pages", []).extend(split_list(text))
                else:
                    try:
                        entry["max_age_hours"] = int(text.removesuffix("h").strip())
                    except ValueError:
                        self.add_error(
                            name, f"Line {number}: {text!r} is not a whole number of hours."
                        )
        cleaned["trigger_conditions"] = entries
        return cleaned

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.UPDATABLE}

    def create_kwargs(self) -> dict[str, Any]:
        data = self.changes()
        data["absence_event_type"] = data["absence_event_type"] or ""
        return {"code": self.cleaned_data["code"], "kind": self.cleaned_data["kind"], **data}


class CampaignOfferForm(forms.Form):
    offer = forms.ModelChoiceField(
        queryset=Offer.objects.exclude(status=OfferStatus.RETIRED)
        .select_related("product")
        .order_by("code"),
        required=False,
        widget=QuickSelect,
    )
    arm = forms.CharField(max_length=16, initial="A", required=False)
    weight = forms.DecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.01"),
        initial=Decimal("1"),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)
        self.fields["arm"].widget.attrs["size"] = 4
        self.fields["weight"].widget.attrs["step"] = "0.01"
        # The rows sit under one header row, so each field names itself for screen readers.
        row = "" if self.prefix is None else f" (row {self.prefix.rsplit('-', 1)[-1]})"
        for name, label in (("offer", "Offer"), ("arm", "Arm"), ("weight", "Weight")):
            self.fields[name].widget.attrs["aria-label"] = f"{label}{row}"


class _ReadChoices(BaseChoiceIterator):
    """Choices already read, handed to each row's widget as they are."""

    def __init__(self, choices: list[Any]) -> None:
        self.choices = choices

    def __iter__(self) -> Iterator[Any]:
        return iter(self.choices)


class BaseCampaignOfferFormSet(forms.BaseFormSet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._offer_choices: _ReadChoices | None = None

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        """Every row offers the same offers: read them once per page, not once a row (a
        50-offer campaign's builder made 58 queries). Only the widget takes the list, as
        an iterator Django does not normalise again for each row; the field still
        validates a posted offer against its queryset."""
        form = super()._construct_form(i, **kwargs)
        if self._offer_choices is None:
            self._offer_choices = _ReadChoices(list(form.fields["offer"].choices))
        form.fields["offer"].widget.choices = self._offer_choices
        return form

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            row = "" if index is None else f" (row {index})"
            form.fields["DELETE"].widget.attrs["aria-label"] = f"Remove{row}"

    def entries(self) -> list[dict[str, Any]]:
        """The rows that name an offer, as the service's ``offers`` argument."""
        rows = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data.get("offer") or data.get("DELETE"):
                continue
            rows.append(
                {
                    "offer": data["offer"],
                    "arm": (data.get("arm") or "A").strip(),
                    "weight": data.get("weight") or Decimal("1"),
                }
            )
        return rows


CampaignOfferFormSet = forms.formset_factory(
    CampaignOfferForm, formset=BaseCampaignOfferFormSet, extra=2, can_delete=True
)


def offer_rows(campaign: Campaign | None) -> list[dict[str, Any]]:
    if campaign is None:
        return []
    return [
        {"offer": link.offer, "arm": link.arm, "weight": link.weight}
        for link in campaign.campaign_offers.select_related("offer").order_by("arm", "offer__code")
    ]


class ContactPolicyForm(ConsoleForm):
    daily_cap = forms.IntegerField(min_value=0, label="Daily cap")
    weekly_cap = forms.IntegerField(min_value=0, label="Weekly cap")
    quiet_start = forms.TimeField(widget=TIME)
    quiet_end = forms.TimeField(widget=TIME)
    quiet_channels = forms.MultipleChoiceField(
        choices=[(c.value, c.label) for c in Channel if c in OUTBOUND],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Never sent in quiet hours (deferred, not dropped).",
    )
    decline_cooldown_days = forms.IntegerField(min_value=0, label="Cooldown after decline (days)")
    fatigue_ignored_in_row = forms.IntegerField(
        min_value=1, label="Ignored in a row before back-off"
    )
    fatigue_backoff_days = forms.IntegerField(min_value=0, label="Back-off (days)")
    presented_elsewhere_days = forms.IntegerField(
        min_value=0, label="Not on another channel within (days)"
    )
    hardship_event_types = forms.CharField(
        required=False, help_text="Events that suppress credit sales offers, comma separated."
    )
    hardship_days = forms.IntegerField(min_value=0, label="Hardship protection (days)")
    note = forms.CharField(max_length=200, required=False, help_text="Why this change.")

    FIELDS = (
        "daily_cap",
        "weekly_cap",
        "quiet_start",
        "quiet_end",
        "quiet_channels",
        "decline_cooldown_days",
        "fatigue_ignored_in_row",
        "fatigue_backoff_days",
        "presented_elsewhere_days",
        "hardship_event_types",
        "hardship_days",
    )

    @classmethod
    def initial_from(cls, policy: ContactPolicy | None) -> dict[str, Any]:
        if policy is None:
            return {}
        initial = {name: getattr(policy, name) for name in cls.FIELDS}
        initial["hardship_event_types"] = ", ".join(policy.hardship_event_types or [])
        return initial

    def clean_hardship_event_types(self) -> list[str]:
        return split_list(self.cleaned_data.get("hardship_event_types", ""))

    def changes(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.FIELDS}
        data["quiet_channels"] = list(data["quiet_channels"])
        return data
