"""Each automated pre-check is a pure function: tested without a database."""

from __future__ import annotations

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from compliance import prechecks as pc
from compliance.prechecks import BLOCKING, WARNING


def codes(findings):
    return [f.code for f in findings]


# --- credit disclosure ------------------------------------------------------------------


def test_credit_content_without_disclosure_is_blocked():
    findings = pc.check_credit_disclosure(is_credit=True, disclosure="")
    assert codes(findings) == ["credit_disclosure_missing"]
    assert findings[0].severity == BLOCKING
    assert findings[0].field == "disclosure"


def test_credit_disclosure_without_a_representative_apr_is_blocked():
    findings = pc.check_credit_disclosure(is_credit=True, disclosure="Terms and conditions apply.")
    assert codes(findings) == ["credit_disclosure_without_apr"]


def test_credit_disclosure_needs_an_apr_figure_not_just_the_word():
    findings = pc.check_credit_disclosure(is_credit=True, disclosure="See our APR on the website.")
    assert codes(findings) == ["credit_disclosure_without_apr"]


@pytest.mark.parametrize(
    "disclosure",
    [
        "Representative 19.9% APR (variable).",
        "Representative APR 7,5 %. Credit subject to status.",
        "representative apr: 12%",
    ],
)
def test_credit_disclosure_with_a_representative_apr_passes(disclosure):
    assert pc.check_credit_disclosure(is_credit=True, disclosure=disclosure) == []


def test_non_credit_content_needs_no_apr():
    assert pc.check_credit_disclosure(is_credit=False, disclosure="") == []


# --- banned phrases -----------------------------------------------------------------------


def test_banned_phrase_is_found_whatever_the_case_and_spacing():
    findings = pc.check_banned_phrases(
        texts={"headline": "GUARANTEED   Approval today", "body": "fine"},
        phrases=["guaranteed approval"],
    )
    assert codes(findings) == ["banned_phrase"]
    assert findings[0].field == "headline"
    assert findings[0].severity == BLOCKING


def test_hyphenated_banned_phrase_matches_its_spaced_spelling():
    findings = pc.check_banned_phrases(
        texts={"body": "A risk free way to save"}, phrases=["risk-free"]
    )
    assert codes(findings) == ["banned_phrase"]


def test_banned_phrase_inside_a_longer_word_is_not_a_match():
    assert (
        pc.check_banned_phrases(
            texts={"body": "no credit checking fees"}, phrases=["no credit check"]
        )
        == []
    )


def test_every_banned_phrase_in_every_field_is_reported():
    findings = pc.check_banned_phrases(
        texts={"headline": "Risk-free!", "body": "No credit check, guaranteed approval"},
        phrases=pc.DEFAULT_BANNED_PHRASES,
    )
    assert sorted((f.field, f.message) for f in findings) == sorted(
        [
            ("headline", "'risk-free' is a banned phrase."),
            ("body", "'no credit check' is a banned phrase."),
            ("body", "'guaranteed approval' is a banned phrase."),
        ]
    )


def test_banned_phrases_come_from_the_setting_when_configured():
    with override_settings(CROSSSELL_BANNED_PHRASES=["once in a lifetime"]):
        assert pc.banned_phrases() == ("once in a lifetime",)
        findings = pc.content_prechecks(
            channel="email",
            is_credit=False,
            headline="A once in a lifetime deal",
            body="Risk-free.",
            call_to_action="",
            disclosure="",
        )
    assert [f.message for f in findings] == ["'once in a lifetime' is a banned phrase."]


def test_default_banned_phrases_include_the_classics():
    assert {"guaranteed approval", "risk-free", "no credit check"} <= set(pc.banned_phrases())


# --- SMS ----------------------------------------------------------------------------------


def test_sms_of_exactly_160_gsm7_characters_fits():
    assert pc.check_sms_length(channel="sms", text="a" * 160) == []


def test_sms_over_160_gsm7_characters_warns_of_the_parts_it_takes():
    findings = pc.check_sms_length(channel="sms", text="a" * 161)
    assert codes(findings) == ["sms_multipart"]
    assert not pc.has_blocking(findings)
    assert "161 GSM-7 characters, so it is sent as 2 parts of 153" in findings[0].message


def test_sms_of_more_than_three_parts_is_blocked():
    assert codes(pc.check_sms_length(channel="sms", text="a" * 459)) == ["sms_multipart"]
    findings = pc.check_sms_length(channel="sms", text="a" * 460)
    assert codes(findings) == ["sms_too_long"]
    assert pc.has_blocking(findings)
    assert "460 GSM-7 characters: 4 parts of 153; at most 3" in findings[0].message


def test_gsm7_extension_characters_count_twice():
    assert pc.sms_length("€" * 80) == ("gsm7", 160, 160)
    assert codes(pc.check_sms_length(channel="sms", text="€" * 80 + "a")) == ["sms_multipart"]
    # an escape pair never straddles two parts: 76 pairs fill 152 of a part's 153 septets
    assert pc.sms_segments("€" * 230, "gsm7") == (4, 153, 153 - 2 * (230 - 3 * 76))
    assert pc.sms_length("{}[]~|^\\") == ("gsm7", 16, 160)


def test_sms_with_non_gsm_characters_uses_the_ucs2_limit_of_70():
    text = "Olá “amigo” " + "a" * 50  # curly quotes are not GSM-7
    assert pc.sms_length(text)[0] == "ucs2"
    assert codes(pc.check_sms_length(channel="sms", text=text)) == ["sms_not_gsm7"]
    findings = pc.check_sms_length(channel="sms", text="“" + "a" * 70)
    assert codes(findings) == ["sms_multipart", "sms_not_gsm7"]
    assert "71 UCS-2 units" in findings[0].message and "2 parts of 67" in findings[0].message
    assert codes(pc.check_sms_length(channel="sms", text="“" + "a" * 201)) == [
        "sms_too_long",
        "sms_not_gsm7",
    ]


def test_emoji_count_as_two_ucs2_units():
    assert pc.sms_length("🙂" * 35) == ("ucs2", 70, 70)
    assert codes(pc.check_sms_length(channel="sms", text="🙂" * 36)) == [
        "sms_multipart",
        "sms_not_gsm7",
    ]


def test_length_and_opt_out_only_apply_to_sms():
    assert pc.check_sms_length(channel="email", text="a" * 5000) == []
    assert pc.check_sms_opt_out(channel="push", text="no opt out here") == []


def test_sms_without_opt_out_wording_is_blocked():
    findings = pc.check_sms_opt_out(channel="sms", text="Get 2% cashback on fuel.")
    assert codes(findings) == ["sms_without_opt_out"]
    assert findings[0].severity == BLOCKING


@pytest.mark.parametrize(
    "text",
    ["Reply STOP to opt out", "reply stop to unsubscribe", "Text STOP to 12345", "Send 'STOP'"],
)
def test_sms_with_opt_out_wording_passes(text):
    assert pc.check_sms_opt_out(channel="sms", text=f"Cashback on fuel. {text}") == []


def test_the_word_stop_alone_is_not_opt_out_wording():
    assert codes(pc.check_sms_opt_out(channel="sms", text="Don't stop saving")) == [
        "sms_without_opt_out"
    ]


def test_sms_text_is_body_call_to_action_and_disclosure():
    assert pc.sms_text(body="Body.", call_to_action="Apply", disclosure="") == "Body. Apply"


@given(st.text(alphabet=sorted(pc.GSM7_BASIC | pc.GSM7_EXTENSION), max_size=300))
def test_gsm7_length_is_characters_plus_one_per_extension_character(text):
    encoding, length, limit = pc.sms_length(text)
    assert encoding == "gsm7"
    assert limit == 160
    assert length == len(text) + sum(1 for c in text if c in pc.GSM7_EXTENSION)


# --- placeholders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Hi {{first_name}}, welcome",
        "Hi {{ customer.name }}",
        "Dear [NAME],",
        "Dear [First Name],",
        "Dear [first_name],",
        "Hello {first_name}!",
        "Hello ${name}",
        "Hi %FIRST_NAME%",
        "Hi <<name>>",
        "{% if x %}promo{% endif %}",
        "Lorem ipsum dolor",
        "Rate: TBD",
    ],
)
def test_unfilled_placeholders_are_blocked(text):
    findings = pc.check_placeholders(texts={"body": text})
    assert codes(findings) == ["unfilled_placeholder"]
    assert findings[0].severity == BLOCKING


@pytest.mark.parametrize(
    "text", ["Save 20% today", "See note [1]", "Cashback (up to €10)", "Terms at bank.example/t"]
)
def test_ordinary_copy_is_not_a_placeholder(text):
    assert pc.check_placeholders(texts={"body": text}) == []


def test_one_placeholder_finding_per_field():
    findings = pc.check_placeholders(texts={"headline": "[NAME] {{x}}", "body": "{{y}}"})
    assert sorted(f.field for f in findings) == ["body", "headline"]


# --- protected attributes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "gender",
        "attributes.gender",
        "attributes.marital_status",
        "attributes.ethnicity",
        "attributes.religion",
        "attributes.nationality",
        "attributes.gender=F",
        "Attributes.Nationality",
        "attributes.sex",
    ],
)
def test_protected_attributes_are_recognised(name):
    assert pc.protected_name(name) is not None


@pytest.mark.parametrize(
    "name", ["age", "region", "attributes.salary", "attributes.gender_pay_gap"]
)
def test_other_fields_are_not_protected(name):
    assert pc.protected_name(name) is None


def test_protected_attribute_in_a_credit_rule_is_blocking():
    findings = pc.check_protected_attributes(
        is_credit=True, fields={"age", "attributes.gender"}, source="audience_rule"
    )
    assert codes(findings) == ["protected_attribute_credit"]
    assert findings[0].severity == BLOCKING
    assert "gender" in findings[0].message


def test_protected_attribute_for_a_non_credit_product_is_only_a_warning():
    findings = pc.check_protected_attributes(
        is_credit=False, fields={"attributes.religion"}, source="eligibility_rule"
    )
    assert codes(findings) == ["protected_attribute_used"]
    assert findings[0].severity == WARNING


def test_model_features_of_a_credit_product_may_not_use_protected_attributes():
    findings = pc.check_model_features(
        is_credit=True, feature_names=["age", "attributes.marital_status=married"]
    )
    assert codes(findings) == ["protected_attribute_credit"]
    assert pc.check_model_features(is_credit=True, feature_names=["age", "tenure_months"]) == []


# --- rule fields ----------------------------------------------------------------------------


def test_fallback_tokenizer_reads_field_names(fallback_rules):
    fields = pc.rule_fields(
        'age >= 18 and not holds("MORTGAGE") and attributes.gender == "F" '
        "and region in ('North', 'East') or has_email"
    )
    assert fields == {"age", "attributes.gender", "region", "has_email"}


def test_fallback_tokenizer_reports_unbalanced_parentheses_with_position(fallback_rules):
    with pytest.raises(pc.RuleSyntaxError) as error:
        pc.rule_fields("(age > 18")
    assert error.value.position == 9
    with pytest.raises(pc.RuleSyntaxError) as error:
        pc.rule_fields("age > 18)")
    assert error.value.position == 8


def test_fallback_tokenizer_reports_unknown_characters_and_open_strings(fallback_rules):
    with pytest.raises(pc.RuleSyntaxError) as error:
        pc.rule_fields("age ; 3")
    assert error.value.position == 4
    with pytest.raises(pc.RuleSyntaxError):
        pc.rule_fields('region == "North')


def test_blank_rule_reads_nothing(fallback_rules):
    assert pc.rule_fields("   ") == frozenset()


def test_engine_parser_when_plugged_in_supplies_fields_and_positions(engine_rules):
    assert pc.rule_fields("age >= 18 and attributes.gender == 'F'") == {
        "age",
        "attributes.gender",
    }
    with pytest.raises(pc.RuleSyntaxError) as error:
        pc.rule_fields("age >= ")
    assert error.value.position == 7


# --- bundles --------------------------------------------------------------------------------


def test_content_prechecks_bundle_runs_every_check():
    findings = pc.content_prechecks(
        channel="sms",
        is_credit=True,
        headline="Hi",
        body="Hi {{first_name}}, guaranteed approval on a loan! " + "x" * 150,
        call_to_action="",
        disclosure="",
        eligibility_fields={"attributes.ethnicity"},
        phrases=pc.DEFAULT_BANNED_PHRASES,
        offer_code="LOAN_1",
    )
    assert set(codes(findings)) == {
        "credit_disclosure_missing",
        "banned_phrase",
        "sms_multipart",
        "sms_without_opt_out",
        "unfilled_placeholder",
        "protected_attribute_credit",
    }
    assert pc.has_blocking(findings)


def test_clean_content_has_no_findings():
    findings = pc.content_prechecks(
        channel="sms",
        is_credit=True,
        headline="Personal loan",
        body="Borrow for your plans.",
        call_to_action="Reply YES. Reply STOP to opt out.",
        disclosure="Representative 9.9% APR.",
        phrases=pc.DEFAULT_BANNED_PHRASES,
    )
    assert findings == []
    assert not pc.has_blocking(findings)


def test_targeting_prechecks_flag_protected_audience_for_credit_offers_and_missing_content():
    findings = pc.targeting_prechecks(
        audience_fields={"attributes.nationality"},
        offers=[
            pc.TargetedOffer("CARD", is_credit=True, has_approved_content=False),
            pc.TargetedOffer(
                "SAVE", is_credit=False, eligibility_fields=frozenset({"attributes.religion"})
            ),
        ],
        channels=["sms"],
    )
    assert sorted((f.code, f.severity) for f in findings) == [
        ("offer_without_approved_content", WARNING),
        ("protected_attribute_credit", BLOCKING),
        ("protected_attribute_used", WARNING),
    ]


def test_targeting_without_offers_or_channels_is_blocked():
    findings = pc.targeting_prechecks(audience_fields=set(), offers=[], channels=[])
    assert codes(findings) == ["campaign_without_offers", "campaign_without_channels"]


def test_findings_serialise_for_the_reviewer():
    finding = pc.Finding("banned_phrase", BLOCKING, "x", "body")
    assert finding.as_dict() == {
        "code": "banned_phrase",
        "severity": "blocking",
        "message": "x",
        "field": "body",
    }
    assert pc.has_blocking([finding.as_dict()])
