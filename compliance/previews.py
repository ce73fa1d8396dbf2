"""What a version of an offer's words looks like on its channel, before it is sent.

One preview per kind of channel: an SMS bubble (the text the gateway sends, its
encoding, its length and how many segments it takes, and whether it carries the opt-out
wording), a push card, an e-mail, an agent's prompt for the people-staffed channels
(branch, contact centre) and a banner for the digital inbound ones (app, web, ATM).
Pure functions over text: the editor's live preview, the offer page and the approval
queue all build them from here, so they always agree with the pre-checks, whose GSM-7
alphabet and SMS text they share (``compliance.prechecks``).

SMS segments (3GPP TS 23.040): a single message holds 160 GSM-7 septets or 70 UCS-2
units; a longer one is split into parts of 153 septets or 67 units (each part carries a
header). A GSM-7 extension character (``€ [ ] { } ^ ~ | \\``) takes two septets and an
escape pair is never split across parts; nor is a UTF-16 surrogate pair (an emoji).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compliance.prechecks import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMS_GSM7_LIMIT,
    SMS_UCS2_LIMIT,
    check_sms_opt_out,
    sms_segments,
    sms_text,
    sms_unit_cost,
)
from core.channels import BY_CODE

TEXT_FIELDS = ("headline", "body", "call_to_action", "disclosure")
# How much of a push notification the lock screen shows before it cuts (the common
# iOS/Android figures); longer text is still sent, it is just not seen at a glance.
PUSH_TITLE_VISIBLE = 50
PUSH_BODY_VISIBLE = 150
# An e-mail subject longer than this is cut in most inbox lists.
EMAIL_SUBJECT_VISIBLE = 60

SMS = "sms"
PUSH = "push"
EMAIL = "email"
AGENT = "agent"
BANNER = "banner"


def preview_kind(channel: str) -> str:
    """Which preview a channel gets (``core.channels``: human channels get a prompt)."""
    if channel in (SMS, PUSH, EMAIL):
        return channel
    spec = BY_CODE.get(channel)
    if spec is None:
        raise ValueError(f"unknown channel {channel!r}")
    return AGENT if spec.human else BANNER


@dataclass(frozen=True, slots=True)
class SmsCount:
    """How an SMS text is sent."""

    encoding: str  # "gsm7" | "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # the capacity of each part: 160/70 for one message, 153/67 for more
    remaining: int  # units left in the last part before another one is needed
    outside_gsm7: tuple[str, ...]  # the characters that forced UCS-2, once each

    @property
    def encoding_label(self) -> str:
        return "GSM-7" if self.encoding == "gsm7" else "UCS-2"


def sms_count(text: str) -> SmsCount:
    """Encoding, length and segments of an SMS text."""
    outside = tuple(
        dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION)
    )
    encoding = "ucs2" if outside else "gsm7"
    units = sum(sms_unit_cost(char, encoding) for char in text)
    segments, per_segment, remaining = sms_segments(text, encoding)
    return SmsCount(encoding, units, segments, per_segment, remaining, outside)


@dataclass(frozen=True, slots=True)
class Preview:
    """One channel's rendering of a content version (or of the text being typed)."""

    channel: str
    channel_label: str
    kind: str
    headline: str
    body: str
    call_to_action: str
    disclosure: str
    text: str = ""  # SMS: exactly what the gateway sends
    sms: SmsCount | None = None
    has_opt_out: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def body_paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]


def _cut(text: str, visible: int) -> tuple[str, bool]:
    if len(text) <= visible:
        return text, False
    return text[: visible - 1].rstrip() + "…", True


def preview(
    *,
    channel: str,
    headline: str = "",
    body: str = "",
    call_to_action: str = "",
    disclosure: str = "",
) -> Preview:
    """The preview of these words on ``channel``, with notes on what the customer will see."""
    headline, body = (headline or "").strip(), (body or "").strip()
    call_to_action, disclosure = (call_to_action or "").strip(), (disclosure or "").strip()
    kind = preview_kind(channel)
    label = BY_CODE[channel].label
    notes: list[str] = []
    common: dict[str, Any] = {
        "channel": channel,
        "channel_label": label,
        "kind": kind,
        "call_to_action": call_to_action,
        "disclosure": disclosure,
    }
    if kind == SMS:
        text = sms_text(body=body, call_to_action=call_to_action, disclosure=disclosure)
        count = sms_count(text)
        has_opt_out = not check_sms_opt_out(channel=SMS, text=text)
        notes.append("An SMS sends the body, call to action and disclosure; not the headline.")
        if count.segments > 1:
            notes.append(
                f"Sent as {count.segments} parts of up to {count.per_segment} "
                f"{count.encoding_label} units: each part is charged as one message."
            )
        if count.outside_gsm7:
            notes.append(
                "Characters outside GSM-7 ("
                + " ".join(repr(c) for c in count.outside_gsm7[:8])
                + f") make it UCS-2: {SMS_UCS2_LIMIT} characters a message instead of "
                f"{SMS_GSM7_LIMIT}."
            )
        if not has_opt_out:
            notes.append("No opt-out wording: add 'Reply STOP to opt out'.")
        return Preview(
            headline=headline,
            body=body,
            text=text,
            sms=count,
            has_opt_out=has_opt_out,
            notes=tuple(notes),
            **common,
        )
    if kind == PUSH:
        title, title_cut = _cut(headline, PUSH_TITLE_VISIBLE)
        shown, body_cut = _cut(body, PUSH_BODY_VISIBLE)
        if title_cut:
            notes.append(f"The title shows its first {PUSH_TITLE_VISIBLE} characters.")
        if body_cut:
            notes.append(f"The lock screen shows the first {PUSH_BODY_VISIBLE} characters.")
        return Preview(headline=title, body=shown, notes=tuple(notes), **common)
    if kind == EMAIL:
        if len(headline) > EMAIL_SUBJECT_VISIBLE:
            notes.append(f"Inboxes show about {EMAIL_SUBJECT_VISIBLE} characters of the subject.")
        notes.append("Every marketing e-mail ends with the bank's unsubscribe link.")
        return Preview(headline=headline, body=body, notes=tuple(notes), **common)
    if kind == AGENT:
        if disclosure:
            notes.append("The agent must read the disclosure out before the customer agrees.")
        return Preview(headline=headline, body=body, notes=tuple(notes), **common)
    return Preview(headline=headline, body=body, notes=tuple(notes), **common)


def preview_of(content: Any) -> Preview:
    """The preview of a stored content version (anything with the four text fields)."""
    return preview(
        channel=content.channel,
        headline=content.headline,
        body=content.body,
        call_to_action=content.call_to_action,
        disclosure=content.disclosure,
    )
