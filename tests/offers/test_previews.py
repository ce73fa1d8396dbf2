"""Channel previews: SMS encoding and segments, the STOP wording, and the preview per channel."""

from __future__ import annotations

import pytest

from compliance.previews import preview, preview_kind, sms_count


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "gsm7", 0, 0),
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),  # 153 + 8
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),  # an extension character takes two septets
        ("€" + "a" * 159, "gsm7", 161, 2),
        ("a" * 70 + "\u2019", "ucs2", 71, 2),  # one curly quote makes the whole text UCS-2
        ("ã" * 70, "ucs2", 70, 1),
        ("ã" * 134, "ucs2", 134, 2),
        ("ã" * 135, "ucs2", 135, 3),
    ],
)
def test_sms_count_gives_encoding_units_and_segments(text, encoding, units, segments):
    count = sms_count(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_an_extension_pair_never_straddles_two_parts():
    # 152 septets, then "€" (2 septets) would end at 154 > 153: it starts the second part.
    count = sms_count("a" * 152 + "€" + "a" * 10)
    assert count.segments == 2 and count.remaining == 153 - 12


def test_an_emoji_counts_two_ucs2_units_and_is_named_as_the_cause():
    count = sms_count("Hi 🙂")
    assert (count.encoding, count.units) == ("ucs2", 5)
    assert count.outside_gsm7 == ("🙂",)


def test_the_sms_preview_shows_what_the_gateway_sends_and_the_stop_wording():
    shown = preview(
        channel="sms", headline="Not sent", body="2% back on fuel.", call_to_action="Apply"
    )
    assert shown.text == "2% back on fuel. Apply"
    assert shown.has_opt_out is False
    assert any("STOP" in note for note in shown.notes)
    with_stop = preview(channel="sms", body="2% back. Reply STOP to opt out.")
    assert with_stop.has_opt_out is True and with_stop.sms.segments == 1


def test_a_long_sms_preview_says_how_many_parts_are_charged():
    shown = preview(channel="sms", body="x" * 200 + " Reply STOP to opt out.")
    assert shown.sms.segments == 2
    assert any("2 parts" in note for note in shown.notes)


def test_each_channel_gets_its_kind_of_preview():
    assert [
        preview_kind(c) for c in ("sms", "push", "email", "branch", "contact_center", "web")
    ] == [
        "sms",
        "push",
        "email",
        "agent",
        "agent",
        "banner",
    ]
    push = preview(channel="push", headline="T" * 60, body="B" * 200)
    assert push.headline.endswith("…") and len(push.body) == 150
    agent = preview(channel="branch", headline="Card", disclosure="APR 19.9%")
    assert any("read the disclosure" in note for note in agent.notes)
    with pytest.raises(ValueError, match="unknown channel"):
        preview_kind("fax")
