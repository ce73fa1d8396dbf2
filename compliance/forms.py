"""Compliance console forms. They only collect input; the services decide."""

from __future__ import annotations

from django import forms

from compliance.choices import ConsentChannel, ConsentStatus, SuppressionScope
from core.forms import ConsoleForm


class ApprovalDecisionForm(ConsoleForm):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    COMMENT = "comment"
    ACTIONS = (
        (APPROVE, "Approve"),
        (REQUEST_CHANGES, "Request changes"),
        (REJECT, "Reject"),
        (COMMENT, "Comment only"),
    )

    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to reject, to request changes, and for a comment.",
    )


class ConsentChangeForm(ConsoleForm):
    channel = forms.ChoiceField(choices=ConsentChannel.choices)
    status = forms.ChoiceField(choices=ConsentStatus.choices)
    source = forms.CharField(
        max_length=100, initial="console", help_text="Where the customer said so."
    )


class SuppressionForm(ConsoleForm):
    scope = forms.ChoiceField(choices=SuppressionScope.choices)
    value = forms.CharField(
        max_length=64,
        required=False,
        help_text="The family, product code, offer code or channel; empty for all offers.",
    )
    until = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty means permanent.",
    )
    reason = forms.CharField(max_length=64)


class SuppressionLiftForm(ConsoleForm):
    reason = forms.CharField(max_length=200)


class DoNotContactForm(ConsoleForm):
    reason = forms.CharField(max_length=200)


class ErasureForm(ConsoleForm):
    external_id = forms.CharField(max_length=64, label="Customer id")
    confirm = forms.CharField(
        max_length=64,
        label="Type the customer id again",
        help_text="Erasure blanks personal data for good; the ledger keeps the pseudonym.",
    )

    def clean(self):
        data = super().clean()
        if data.get("external_id") and data.get("confirm") != data.get("external_id"):
            self.add_error("confirm", "Does not match the customer id.")
        return data


class VerifyLedgerForm(ConsoleForm):
    full = forms.BooleanField(required=False, label="Full verification (every record)")
