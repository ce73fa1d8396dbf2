"""Catalog forms. They parse what people type; ``offers.services`` decides what is valid."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from core.forms import ConsoleForm
from offers.choices import OfferKind, ProductFamily
from offers.models import Offer, OfferContent, OfferTargeting, Product
from offers.targeting_hash import TARGETING_FIELDS

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ProductForm(ConsoleForm):
    code = forms.CharField(max_length=32, help_text="The bank's product code; never changes.")
    name = forms.CharField(max_length=120)
    family = forms.ChoiceField(choices=ProductFamily.choices)
    annual_value = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, help_text="Expected annual value to the bank."
    )
    is_credit = forms.BooleanField(required=False, label="Credit product")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    UPDATABLE = ("name", "family", "annual_value", "is_credit", "is_active", "description")

    def __init__(self, *args: Any, instance: Product | None = None, **kwargs: Any) -> None:
        if instance is not None:
            kwargs.setdefault(
                "initial", {name: getattr(instance, name) for name in ("code", *self.UPDATABLE)}
            )
        super().__init__(*args, **kwargs)
        self.instance = instance
        if instance is not None:
            self.fields["code"].disabled = True
            self.fields["code"].required = False

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.UPDATABLE}


def parse_trigger_weights(text: str) -> dict[str, float]:
    """``event_type: weight`` per line (or ``=``); blank lines ignored."""
    weights: dict[str, float] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        separator = ":" if ":" in line else "="
        event, _, weight = line.partition(separator)
        event = event.strip()
        if not event or not weight.strip():
            raise forms.ValidationError(f"Line {number}: write 'event_type: weight'.")
        try:
            value = float(weight.strip())
        except ValueError:
            raise forms.ValidationError(
                f"Line {number}: {weight.strip()!r} is not a number."
            ) from None
        weights[event] = value
    return weights


def format_trigger_weights(weights: dict[str, Any]) -> str:
    return "\n".join(f"{event}: {weight}" for event, weight in sorted((weights or {}).items()))


class OfferForm(ConsoleForm):
    product = forms.ModelChoiceField(queryset=Product.objects.order_by("family", "code"))
    code = forms.CharField(max_length=48, help_text="Stable code channels and reports use.")
    name = forms.CharField(max_length=160)
    kind = forms.ChoiceField(
        choices=OfferKind.choices,
        help_text="Service actions are exempt from marketing consent and caps (audited).",
    )
    valid_from = forms.DateTimeField(required=False, widget=DATETIME)
    valid_until = forms.DateTimeField(required=False, widget=DATETIME)
    eligibility_rule = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "rule", "spellcheck": "false"}),
        help_text='Rule language, e.g. age >= 18 and not holds("MORTGAGE") and '
        'likelihood("MORTGAGE") >= "target". Empty = everyone.',
    )
    lever = forms.DecimalField(
        max_digits=6, decimal_places=3, initial=Decimal("1.000"), help_text="Business priority."
    )
    value = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text="Overrides the product's annual value when set.",
    )
    cooldown_days = forms.IntegerField(min_value=0, initial=0)
    trigger_weights = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "rule", "spellcheck": "false"}),
        help_text="How relevant a triggering event is: one 'event_type: weight' per line.",
    )
    note = forms.CharField(
        max_length=200,
        required=False,
        help_text="Why this targeting change (shown to the reviewer).",
    )

    UPDATABLE = (
        "name",
        "kind",
        "valid_from",
        "valid_until",
        "eligibility_rule",
        "lever",
        "value",
        "cooldown_days",
        "trigger_weights",
    )

    def __init__(
        self,
        *args: Any,
        instance: Offer | None = None,
        targeting: OfferTargeting | None = None,
        **kwargs: Any,
    ) -> None:
        """``targeting``: a proposal waiting for review, which the form starts from."""
        if instance is not None:
            initial = {
                name: getattr(instance, name) for name in ("product", "code", *self.UPDATABLE)
            }
            if targeting is not None:
                initial.update({name: getattr(targeting, name) for name in TARGETING_FIELDS})
            initial["trigger_weights"] = format_trigger_weights(initial["trigger_weights"])
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.instance = instance
        if instance is not None:
            for name in ("product", "code"):
                self.fields[name].disabled = True
                self.fields[name].required = False

    def clean_trigger_weights(self) -> dict[str, float]:
        return parse_trigger_weights(self.cleaned_data.get("trigger_weights", ""))

    def changes(self) -> dict[str, Any]:
        """What the editor changed (everything, for a new offer). Sending only changed
        fields keeps a name-only edit from touching the targeting, which is versioned."""
        return {
            name: self.cleaned_data[name]
            for name in self.UPDATABLE
            if self.instance is None or name in self.changed_data
        }

    def create_kwargs(self) -> dict[str, Any]:
        data = self.changes()
        return {"product": self.cleaned_data["product"], "code": self.cleaned_data["code"], **data}


class ContentForm(ConsoleForm):
    headline = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}))
    call_to_action = forms.CharField(max_length=100, required=False)
    disclosure = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Credit products need a representative APR here.",
    )

    FIELDS = ("headline", "body", "call_to_action", "disclosure")

    @classmethod
    def initial_from(cls, content: OfferContent | None) -> dict[str, str]:
        if content is None:
            return {}
        return {name: getattr(content, name) for name in cls.FIELDS}
