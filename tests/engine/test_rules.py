"""The rule language: parsing, errors with positions, types, and both evaluators."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decisioning.engine import (
    PROTECTED_ATTRIBUTES,
    CustomerBatch,
    CustomerContext,
    Rule,
    RuleError,
    parse_rule,
    protected_fields_used,
)
from decisioning.engine.rules import And, Compare, Const, Holds, InList, Not, Or

from .builders import PRODUCTS
from .strategies import customers, nodes

FAMILIES = {code: product.family for code, product in PRODUCTS.items()}


def held(customer: CustomerContext) -> frozenset[str]:
    return frozenset(FAMILIES[code] for code in customer.holdings if code in FAMILIES)


def matches(text: str, **fields) -> bool:
    person = CustomerContext(customer_id=1, **fields)
    return parse_rule(text).evaluate(person, held(person))


def test_parses_the_example_into_a_typed_tree_and_back_to_canonical_text():
    rule = parse_rule(
        'age >= 18 and not holds("MORTGAGE") and region in ("North", \'East\') '
        "AND attributes.salary > 2000"
    )
    assert rule.root == And(
        (
            Compare("age", ">=", 18.0, "number"),
            Not(Holds("MORTGAGE")),
            InList("region", ("North", "East"), "string"),
            Compare("attributes.salary", ">", 2000.0, "number"),
        )
    )
    assert rule.to_text() == (
        'age >= 18 and not holds("MORTGAGE") and region in ("North", "East") '
        "and attributes.salary > 2000"
    )
    assert rule.fields() == {"age", "region", "attributes.salary"}
    assert rule.products_referenced() == {"MORTGAGE"}


def test_blank_rule_is_always_true():
    for text in ("", "   \n\t"):
        rule = parse_rule(text)
        assert rule.always_true and rule.root == Const(True)
        assert rule.evaluate(CustomerContext(customer_id=1), frozenset())


def test_precedence_not_binds_tighter_than_and_which_binds_tighter_than_or():
    rule = parse_rule("not has_email or age > 1 and age < 3")
    assert rule.root == Or(
        (
            Not(Compare("has_email", "==", True, "bool")),
            And((Compare("age", ">", 1.0, "number"), Compare("age", "<", 3.0, "number"))),
        )
    )
    assert parse_rule("(a_b_c_d)".replace("a_b_c_d", "has_email")).root == Compare(
        "has_email", "==", True, "bool"
    )


def test_value_on_the_left_and_single_equals_are_normalised():
    assert parse_rule("18 <= age").to_text() == "age >= 18"
    assert parse_rule("region = 'North'").to_text() == 'region == "North"'
    assert parse_rule("-2.50 < tenure_months").to_text() == "tenure_months > -2.5"


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("age >= ", 7, "expected a value after '>=' at position 7, found end of input"),
        (
            'age > "x"',
            6,
            "expected a number to compare with 'age' at position 6, found string \"x\"",
        ),
        ("salary > 1", 0, "expected a field name at position 0, found unknown name 'salary'"),
        ('region < "a"', 7, "expected '==' or '!=' to compare string values at position 7"),
        ("(age > 1", 8, "expected ')' at position 8, found end of input"),
        ("age > 1 age", 8, "expected 'and', 'or' or end of input at position 8, found name 'age'"),
        ('region == "open', 15, 'expected closing " for the string opened at position 10'),
        ("age @ 3", 4, "found '@'"),
        (
            "holds(MORTGAGE)",
            6,
            "expected a quoted product code at position 6, found name 'MORTGAGE'",
        ),
        ('holds_family("boats")', 13, "expected a product family"),
        ("region", 6, "expected a comparison operator or 'in' after 'region'"),
        ("age in (1, 'a')", 11, "expected a number in the list for 'age' at position 11"),
        ("age in ()", 8, "expected a value after '(' at position 8, found ')'"),
        ("attributes. x > 1", 11, "expected a name after '.' at position 11"),
        ("age > 1e5", 7, "expected an operator or ')' after number at position 7, found 'e'"),
        ("1 < 2", 4, "expected a field after '<'"),
        ("age ! 3", 4, "expected '!=' at position 4"),
        ("age > " + "9" * 400, 6, "expected a number of reasonable size at position 6"),
        ("has_email == 1", 13, "expected a bool to compare with 'has_email' at position 13"),
    ],
)
def test_errors_name_the_position_what_was_expected_and_what_was_found(text, position, message):
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert caught.value.position == position
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_deep_nesting_is_refused_not_a_crash():
    with pytest.raises(RuleError):
        parse_rule("(" * 5000 + "has_email" + ")" * 5000)
    with pytest.raises(RuleError):
        parse_rule("not " * 5000 + "has_email")


def test_missing_values_compare_false_even_for_not_equal_and_not_in():
    assert not matches("age > 1")
    assert not matches("age != 1")
    assert not matches("region not in ('North')")
    assert matches("not (age > 1)")
    assert not matches("attributes.salary > 10", attributes={"salary": "a lot"})
    assert not matches("attributes.salary != 10", attributes={"salary": None})
    assert matches("attributes.salary >= 10", attributes={"salary": 10})
    assert matches("attributes.tier == 'gold'", attributes={"tier": "gold"})
    assert not matches("attributes.vip", attributes={"vip": 1})  # 1 is a number, not true
    assert matches("attributes.vip", attributes={"vip": True})
    assert not matches("attributes.vip == 1", attributes={"vip": True})  # true is not a number


def test_holds_and_holds_family():
    assert matches('holds("MORTGAGE")', holdings=frozenset({"MORTGAGE"}))
    assert matches('holds_family("cards")', holdings=frozenset({"FUEL_CARD"}))
    assert not matches('holds_family("cards")', holdings=frozenset({"MORTGAGE"}))
    rule = parse_rule('holds_family("loans") or holds("X")')
    assert rule.families_referenced() == {"loans"} and rule.products_referenced() == {"X"}


def test_protected_attributes_used_by_a_rule_are_reported():
    rule = parse_rule("attributes.gender == 'F' or attributes.salary > 1 or age > 1")
    assert rule.fields() == {"attributes.gender", "attributes.salary", "age"}
    assert protected_fields_used(rule) == {"attributes.gender"}
    assert protected_fields_used(parse_rule("attributes.marital_status in ('x')")) == {
        "attributes.marital_status"
    }
    assert {"gender", "marital_status", "ethnicity", "religion", "nationality"} == set(
        PROTECTED_ATTRIBUTES
    )


@given(st.text(max_size=200))
@settings(max_examples=400)
def test_no_input_text_raises_anything_but_rule_error(text):
    try:
        rule = parse_rule(text)
    except RuleError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert parse_rule(rule.to_text()) == rule


TOKENS = [
    "age", "region", "has_email", "attributes.x", "holds", "holds_family", "(", ")", ",", "-",
    "and", "or", "not", "in", "true", "false", "==", "!=", "<", "<=", ">", ">=", "=", "1",
    "2.5", '"cards"', "'N'", "\\", '"', "!", ".", "..",
]  # fmt: skip


@given(st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join))
@settings(max_examples=500)
def test_token_soup_raises_only_rule_errors_and_parsed_rules_round_trip(text):
    try:
        rule = parse_rule(text)
    except RuleError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert parse_rule(rule.to_text()) == rule


@given(nodes)
def test_canonical_text_round_trips(node):
    text = Rule(node).to_text()
    rule = parse_rule(text)
    assert rule.to_text() == text
    assert parse_rule(rule.to_text()) == rule


@given(nodes, st.lists(customers(), min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_scalar_and_vectorised_evaluators_agree(node, people):
    rule = parse_rule(Rule(node).to_text())
    batch = CustomerBatch.from_contexts(people)
    expected = [rule.evaluate(person, held(person)) for person in people]
    assert rule.mask(batch.source(FAMILIES)).tolist() == expected
