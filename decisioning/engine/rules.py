"""The rule language marketers type for offer eligibility and campaign audiences.

Example::

    age >= 18 and not holds("MORTGAGE") and region in ("North", "East")
        and attributes.salary > 2000

Grammar (keywords are case-insensitive, field names are not)::

    rule       := <empty> | or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" or_expr ")" | "true" | "false"
                | "holds" "(" STRING ")" | "holds_family" "(" STRING ")"
                | "likelihood" "(" STRING ")"
                      (compare_op BAND | ["not"] "in" "(" BAND ("," BAND)* ")")
                | field [compare_op value | ["not"] "in" "(" value ("," value)* ")"]
                | value compare_op field
    compare_op := "==" | "=" | "!=" | "<" | "<=" | ">" | ">="
    value      := ["-"] NUMBER | STRING | "true" | "false"
    field      := a declared field (``fields.FIELDS``) | "attributes." NAME
    BAND       := "priority" | "target" | "low"  (quoted)

A bare field is a test of a ``bool`` field (``has_email`` means ``has_email == true``).
Strings are single- or double-quoted; a backslash makes the next character literal.
Numbers are decimals without exponent. Strings compare with ``==``/``!=``/``in`` only,
booleans with ``==``/``!=``; ordering operators need numbers.

Likelihood bands: ``likelihood("TERM_DEPOSIT") >= "target"`` is the customer's band for
the product (``bands``: "priority" at a propensity >= 0.70, "target" >= 0.50, else
"low"), ordered ``"low" < "target" < "priority"``, so ``>= "target"`` means target or
priority; ``==``, ``!=``, ``<``, ``<=``, ``>``, ``in (...)`` and ``not in (...)`` work too.
The propensity is the one scoring uses — the product's active model in the engine's
snapshot, else the product's smoothed acceptance rate (``scoring.ProductLikelihoods``) —
so a rule that reads a band is bound to a snapshot's models (``Rule.bind``, done by
``snapshot.build_snapshot`` once per distinct rule) before it is evaluated; evaluating an
unbound one is a ``LookupError``. A comparison no band meets (``< "low"``) is refused. A
product the snapshot does not know makes the comparison false, like a missing field;
services refuse unknown product codes when a rule is saved.

Missing values: a field or attribute that is missing (None, absent, or of another type
than the comparison needs) makes every comparison on it false, ``!=`` and ``not in``
included; ``not (...)`` around such a comparison is therefore true.

Text is parsed by a tokenizer and a recursive-descent parser into an immutable AST
(never ``eval``), then compiled once into a Python closure over a ``CustomerContext``
and evaluated over columns for batch runs with NumPy. Every problem is a ``RuleError``
with the 0-based character ``position`` and a message naming what was expected and what
was found.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .bands import BANDS, RANK, LikelihoodSeen, band_ranks
from .fields import (
    ATTRIBUTE_NAME,
    ATTRIBUTE_PREFIX,
    BOOL,
    FIELDS,
    NUMBER,
    PRODUCT_FAMILIES,
    PROTECTED_ATTRIBUTES,
    STRING,
    FieldType,
    attribute_key,
    coerce,
    is_attribute,
    is_protected,
)

if TYPE_CHECKING:
    from .types import CustomerContext

MAX_RULE_LENGTH = 10_000
MAX_DEPTH = 64

Value = float | str | bool


class RuleError(ValueError):
    """A rule that cannot be parsed or type-checked, with the offending position."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# --- tokenizer ------------------------------------------------------------------------

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
FUNCTIONS = frozenset({"holds", "holds_family", "likelihood"})
LIKELIHOOD = "likelihood"
COMPARE_OPS = ("==", "!=", "<=", ">=", "<", ">", "=")
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, keyword, number, string, op, "(", ")", ",", "-", end
    text: str
    position: int
    value: Value | None = None

    def describe(self) -> str:
        if self.kind == "end":
            return "end of input"
        if self.kind == "number":
            return f"number {self.text}"
        if self.kind == "string":
            return f"string {self.text}"
        if self.kind == "name":
            return f"name '{self.text}'"
        if self.kind == "keyword":
            return f"keyword '{self.text}'"
        return f"'{self.text}'"


def _is_ident_start(char: str) -> bool:
    return char == "_" or ("a" <= char <= "z") or ("A" <= char <= "Z")


def _is_ident_char(char: str) -> bool:
    return _is_ident_start(char) or ("0" <= char <= "9")


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        start = i
        if _is_ident_start(char):
            while True:
                while i < n and _is_ident_char(text[i]):
                    i += 1
                if i < n and text[i] == ".":
                    if i + 1 < n and _is_ident_start(text[i + 1]):
                        i += 1
                        continue
                    found = repr(text[i + 1]) if i + 1 < n else "end of input"
                    raise RuleError(
                        f"expected a name after '.' at position {i + 1}, found {found}", i + 1
                    )
                break
            word = text[start:i]
            if word.lower() in KEYWORDS:
                tokens.append(Token("keyword", word.lower(), start))
            else:
                tokens.append(Token("name", word, start))
        elif _is_digit(char):
            while i < n and _is_digit(text[i]):
                i += 1
            if i < n and text[i] == ".":
                i += 1
                if i >= n or not _is_digit(text[i]):
                    found = repr(text[i]) if i < n else "end of input"
                    raise RuleError(f"expected a digit after '.' at position {i}, found {found}", i)
                while i < n and _is_digit(text[i]):
                    i += 1
            if i < n and _is_ident_char(text[i]):
                raise RuleError(
                    f"expected an operator or ')' after number at position {i}, found {text[i]!r}",
                    i,
                )
            literal = text[start:i]
            tokens.append(Token("number", literal, start, float(literal)))
        elif char in "\"'":
            quote = char
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise RuleError(
                        f"expected closing {quote} for the string opened at position {start}, "
                        "found end of input",
                        n,
                    )
                if text[i] == "\\":
                    if i + 1 >= n:
                        raise RuleError(
                            f"expected a character after '\\' at position {i + 1}, "
                            "found end of input",
                            i + 1,
                        )
                    chars.append(text[i + 1])
                    i += 2
                    continue
                if text[i] == quote:
                    i += 1
                    break
                chars.append(text[i])
                i += 1
            tokens.append(Token("string", text[start:i], start, "".join(chars)))
        elif char in "=!<>":
            for op in COMPARE_OPS:
                if text.startswith(op, i):
                    i += len(op)
                    tokens.append(Token("op", "==" if op == "=" else op, start))
                    break
            else:
                found = repr(text[i + 1]) if i + 1 < n else "end of input"
                raise RuleError(f"expected '!=' at position {start}, found '!' then {found}", start)
        elif char in "(),-":
            i += 1
            tokens.append(Token(char, char, start))
        else:
            raise RuleError(
                f"expected a field, value, operator or parenthesis at position {start}, "
                f"found {char!r}",
                start,
            )
    tokens.append(Token("end", "", n))
    return tokens


# --- AST --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op value``; for attributes, ``kind`` is the type the value gives."""

    field: str
    op: str
    value: Value
    kind: FieldType


@dataclass(frozen=True, slots=True)
class InList:
    field: str
    values: tuple[Value, ...]
    kind: FieldType
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Holds:
    product: str


@dataclass(frozen=True, slots=True)
class HoldsFamily:
    family: str


@dataclass(frozen=True, slots=True)
class Likelihood:
    """``likelihood("PRODUCT")`` is one of ``bands`` (a non-empty subset of
    ``bands.BANDS``, in that order); every comparison form parses to this."""

    product: str
    bands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Const | Compare | InList | Holds | HoldsFamily | Likelihood | Not | And | Or


# --- parser -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, *, payload: bool = False) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        # Payload rules name the event's payload keys: any name, typed by its value.
        self.payload = payload

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, expected: str, token: Token | None = None) -> RuleError:
        token = token or self.token
        return RuleError(
            f"expected {expected} at position {token.position}, found {token.describe()}",
            token.position,
        )

    def is_keyword(self, word: str) -> bool:
        return self.token.kind == "keyword" and self.token.text == word

    def expect(self, kind: str, expected: str) -> Token:
        if self.token.kind != kind:
            raise self.fail(expected)
        return self.advance()

    def parse(self) -> Node:
        if self.token.kind == "end":
            return Const(True)
        node = self.parse_or()
        if self.token.kind != "end":
            raise self.fail("'and', 'or' or end of input")
        return node

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleError(
                f"expected at most {MAX_DEPTH} levels of nesting at position "
                f"{self.token.position}, found deeper nesting",
                self.token.position,
            )

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.is_keyword("or"):
            self.advance()
            children.append(self.parse_and())
        if len(children) == 1:
            return children[0]
        return Or(_flatten(children, Or))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while self.is_keyword("and"):
            self.advance()
            children.append(self.parse_not())
        if len(children) == 1:
            return children[0]
        return And(_flatten(children, And))

    def parse_not(self) -> Node:
        if self.is_keyword("not"):
            self.advance()
            self.enter()
            child = self.parse_not()
            self.depth -= 1
            return Not(child)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.token
        if token.kind == "(":
            self.advance()
            self.enter()
            node = self.parse_or()
            self.depth -= 1
            self.expect(")", "')'")
            return node
        if token.kind == "keyword" and token.text in ("true", "false"):
            if self.tokens[self.index + 1].kind == "op":
                return self.parse_reversed_compare()
            self.advance()
            return Const(token.text == "true")
        if token.kind == "name" and self.is_function(self.index):
            return self.parse_function()
        if token.kind == "name":
            return self.parse_field_test()
        if token.kind in ("number", "string", "-"):
            return self.parse_reversed_compare()
        raise self.fail(
            "a condition (a field, holds(...), holds_family(...), likelihood(...), 'not' or '(')"
        )

    def is_function(self, index: int) -> bool:
        """A function name; in payload rules ``likelihood`` not followed by '(' stays a key,
        as it was before the language had the term."""
        token = self.tokens[index]
        if token.text not in FUNCTIONS:
            return False
        if self.payload and token.text == LIKELIHOOD:
            return self.tokens[index + 1].kind == "("
        return True

    def parse_function(self) -> Node:
        name = self.advance()
        if self.payload:
            raise RuleError(
                f"expected a payload field at position {name.position}, found {name.text}(), "
                "which reads the customer, not the event (put it in the audience rule)",
                name.position,
            )
        self.expect("(", f"'(' after {name.text}")
        what = "a quoted product family" if name.text == "holds_family" else "a quoted product code"
        argument = self.expect("string", what)
        self.expect(")", f"')' to close {name.text}(")
        value = str(argument.value)
        if name.text in ("holds", LIKELIHOOD):
            if not value.strip():
                raise RuleError(
                    f"expected a product code at position {argument.position}, found an empty "
                    "string",
                    argument.position,
                )
            return Holds(value) if name.text == "holds" else self.parse_band_test(value)
        if value not in PRODUCT_FAMILIES:
            raise RuleError(
                f"expected a product family ({', '.join(PRODUCT_FAMILIES)}) at position "
                f"{argument.position}, found string {argument.text}",
                argument.position,
            )
        return HoldsFamily(value)

    def parse_band(self, after: str) -> str:
        token = self.token
        if token.kind != "string" or token.value not in RANK:
            raise self.fail(f'a likelihood band ("priority", "target" or "low") after {after}')
        self.advance()
        return str(token.value)

    def parse_band_test(self, product: str) -> Likelihood:
        """What follows ``likelihood("P")``: a band comparison or a band list."""
        call = f"likelihood({_format_value(product)})"
        token = self.token
        if token.kind == "op":
            self.advance()
            band = self.parse_band(f"'{token.text}'")
            rank = RANK[band]
            keep = _PY_OPS[token.text]
            chosen = tuple(b for b in BANDS if keep(RANK[b], rank))
            if not chosen:
                raise RuleError(
                    f"expected a band comparison some customer can meet at position "
                    f'{token.position}, found {call} {token.text} "{band}", which no band meets',
                    token.position,
                )
            return Likelihood(product, chosen)
        negated = self.take_in()
        if negated is not None:
            start = self.tokens[self.index - 1]
            self.expect("(", "'(' to open the list after 'in'")
            listed: set[str] = set()
            while True:
                listed.add(self.parse_band("','" if listed else "'('"))
                if self.token.kind == ",":
                    self.advance()
                    continue
                self.expect(")", "',' or ')' in the list")
                break
            chosen = tuple(b for b in BANDS if (b in listed) != negated)
            if not chosen:
                raise RuleError(
                    f"expected a band comparison some customer can meet at position "
                    f"{start.position}, found {call} not in all three bands, which no band meets",
                    start.position,
                )
            return Likelihood(product, chosen)
        raise self.fail(
            f'a comparison with a band after {call} (e.g. >= "target" or in ("priority", "target"))'
        )

    def take_in(self) -> bool | None:
        """At ``in`` or ``not in``: consume it and say whether it was negated; else None."""
        token = self.token
        following = self.tokens[self.index + 1] if token.kind != "end" else token
        if not self.is_keyword("in") and not (
            self.is_keyword("not") and following.kind == "keyword" and following.text == "in"
        ):
            return None
        negated = self.is_keyword("not")
        if negated:
            self.advance()
        self.advance()
        return negated

    def parse_field(self) -> tuple[str, FieldType | None, Token]:
        token = self.advance()
        name = token.text
        if self.payload:
            return name, None, token
        if name in FIELDS:
            return name, FIELDS[name], token
        if is_attribute(name) and ATTRIBUTE_NAME.match(attribute_key(name)):
            return name, None, token
        known = ", ".join(sorted(FIELDS))
        raise RuleError(
            f"expected a field name at position {token.position}, found unknown name "
            f"'{name}' (fields: {known}, {ATTRIBUTE_PREFIX}<name>)",
            token.position,
        )

    def parse_field_test(self) -> Node:
        name, kind, _ = self.parse_field()
        token = self.token
        if token.kind == "op":
            self.advance()
            value, value_kind, value_token = self.parse_value(after=token.text)
            return self.make_compare(name, kind, token, value, value_kind, value_token)
        negated = self.take_in()
        if negated is not None:
            return self.parse_in_list(name, kind, negated)
        if kind == BOOL or kind is None:
            return Compare(name, "==", True, BOOL)
        raise self.fail(f"a comparison operator or 'in' after '{name}' (a {kind} field)")

    def parse_reversed_compare(self) -> Node:
        value, value_kind, value_token = self.parse_value(after=None)
        token = self.token
        if token.kind != "op":
            raise self.fail("a comparison operator after the value")
        self.advance()
        if self.token.kind != "name" or self.is_function(self.index):
            raise self.fail(f"a field after '{token.text}' (compare a field with a value)")
        name, kind, _ = self.parse_field()
        flipped = Token("op", _FLIPPED[token.text], token.position)
        return self.make_compare(name, kind, flipped, value, value_kind, value_token)

    def parse_value(self, after: str | None) -> tuple[Value, FieldType, Token]:
        token = self.token
        where = f" after '{after}'" if after else ""
        if token.kind == "-":
            self.advance()
            number = self.token
            if number.kind != "number":
                raise self.fail(f"a number after '-'{where}")
            self.advance()
            return _finite(-float(str(number.text)), token), NUMBER, token
        if token.kind == "number":
            self.advance()
            return _finite(float(token.text), token), NUMBER, token
        if token.kind == "string":
            self.advance()
            return str(token.value), STRING, token
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.advance()
            return token.text == "true", BOOL, token
        raise self.fail(f"a value{where}")

    def make_compare(
        self,
        name: str,
        kind: FieldType | None,
        op: Token,
        value: Value,
        value_kind: FieldType,
        value_token: Token,
    ) -> Compare:
        if kind is not None and kind != value_kind:
            raise RuleError(
                f"expected a {kind} to compare with '{name}' at position "
                f"{value_token.position}, found {value_token.describe()}",
                value_token.position,
            )
        if value_kind != NUMBER and op.text not in ("==", "!="):
            raise RuleError(
                f"expected '==' or '!=' to compare {value_kind} values at position "
                f"{op.position}, found '{op.text}' (ordering needs numbers)",
                op.position,
            )
        return Compare(name, op.text, value, value_kind)

    def parse_in_list(self, name: str, kind: FieldType | None, negated: bool) -> InList:
        self.expect("(", "'(' to open the list after 'in'")
        values: list[Value] = []
        list_kind = kind
        while True:
            value, value_kind, value_token = self.parse_value(after="," if values else "(")
            if list_kind is None:
                list_kind = value_kind
            if value_kind != list_kind:
                raise RuleError(
                    f"expected a {list_kind} in the list for '{name}' at position "
                    f"{value_token.position}, found {value_token.describe()}",
                    value_token.position,
                )
            if value not in values:
                values.append(value)
            if self.token.kind == ",":
                self.advance()
                continue
            self.expect(")", "',' or ')' in the list")
            break
        assert list_kind is not None
        return InList(name, tuple(values), list_kind, negated)


def _finite(number: float, token: Token) -> float:
    if number != number or number in (float("inf"), float("-inf")):
        raise RuleError(
            f"expected a number of reasonable size at position {token.position}, "
            "found one too large",
            token.position,
        )
    return number


def _flatten(children: list[Node], kind: type[And] | type[Or]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            flat.extend(child.children)
        else:
            flat.append(child)
    return tuple(flat)


# --- canonical text -------------------------------------------------------------------------


def _format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text if text not in ("", "-") else "0"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _to_text(node: Node, parent: str = "") -> str:
    if isinstance(node, Const):
        return "true" if node.value else "false"
    if isinstance(node, Compare):
        if node.kind == BOOL and node.op == "==" and node.value is True:
            return node.field
        return f"{node.field} {node.op} {_format_value(node.value)}"
    if isinstance(node, InList):
        values = ", ".join(_format_value(v) for v in node.values)
        return f"{node.field} {'not in' if node.negated else 'in'} ({values})"
    if isinstance(node, Holds):
        return f"holds({_format_value(node.product)})"
    if isinstance(node, HoldsFamily):
        return f"holds_family({_format_value(node.family)})"
    if isinstance(node, Likelihood):
        return f"likelihood({_format_value(node.product)}) {_band_text(node.bands)}"
    if isinstance(node, Not):
        inner = _to_text(node.child, "not")
        return f"not {inner}"
    if isinstance(node, And):
        text = " and ".join(_to_text(child, "and") for child in node.children)
        return f"({text})" if parent == "not" else text
    text = " or ".join(_to_text(child, "or") for child in node.children)
    return f"({text})" if parent in ("and", "not") else text


def _band_text(bands: tuple[str, ...]) -> str:
    """The comparison meaning exactly ``bands``: ``== "low"``, ``>= "target"``,
    ``<= "target"``, else the list (``in ("priority", "low")``); parsed back, each gives
    the same band tuple."""
    if not bands:
        raise ValueError("a likelihood term needs at least one band")
    chosen = frozenset(bands)
    for op in ("==", ">=", "<="):
        for band in reversed(BANDS):
            if frozenset(b for b in BANDS if _PY_OPS[op](RANK[b], RANK[band])) == chosen:
                return f'{op} "{band}"'
    listed = ", ".join(f'"{band}"' for band in bands)
    return f"in ({listed})"


# --- introspection --------------------------------------------------------------------------


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Not):
            stack.append(current.child)
        elif isinstance(current, And | Or):
            stack.extend(current.children)


# --- scalar compilation ----------------------------------------------------------------------

# what a rule's likelihood terms read for one customer, product -> seen (None: unknown)
Seen = dict[str, LikelihoodSeen | None]
# (customer, held families, what likelihood terms read, the decision's clock or None)
Evaluator = Callable[["CustomerContext", frozenset[str], Seen, "int | None"], bool]


class Likelihoods(Protocol):
    """The propensities a ``likelihood("PRODUCT")`` term reads: a snapshot's models and
    fallback rates (``scoring.ProductLikelihoods``)."""

    def seen(
        self,
        product: str,
        customer: CustomerContext,
        held_families: frozenset[str],
        now_us: int | None = None,
    ) -> LikelihoodSeen | None: ...

    def propensities(
        self, product: str, source: ColumnSource, now_us: int | None = None
    ) -> np.ndarray | None: ...


def _unbound(product: str) -> LookupError:
    return LookupError(
        f'the rule reads likelihood("{product}"): bind it to a snapshot\'s models '
        "(Snapshot.bind_rule or Rule.bind) before evaluating it"
    )


def _getter(name: str, kind: FieldType) -> Callable[[CustomerContext], Any]:
    if is_attribute(name):
        key = attribute_key(name)

        def get_attribute(customer: CustomerContext) -> Any:
            return coerce(customer.attributes.get(key), kind)

        return get_attribute

    def get_field(customer: CustomerContext) -> Any:
        return coerce(getattr(customer, name), kind)

    return get_field


def _compile(node: Node, likelihoods: Likelihoods | None) -> Evaluator:
    if isinstance(node, Const):
        constant = node.value
        return lambda customer, families, seen, now_us: constant
    if isinstance(node, Compare):
        get = _getter(node.field, node.kind)
        compare = _PY_OPS[node.op]
        literal = node.value

        def evaluate_compare(
            customer: CustomerContext, families: frozenset[str], seen: Seen, now_us: int | None
        ) -> bool:
            value = get(customer)
            return value is not None and compare(value, literal)

        return evaluate_compare
    if isinstance(node, InList):
        get = _getter(node.field, node.kind)
        members = frozenset(node.values)
        negated = node.negated

        def evaluate_in(
            customer: CustomerContext, families: frozenset[str], seen: Seen, now_us: int | None
        ) -> bool:
            value = get(customer)
            return value is not None and ((value in members) != negated)

        return evaluate_in
    if isinstance(node, Holds):
        product = node.product
        return lambda customer, families, seen, now_us: product in customer.holdings
    if isinstance(node, HoldsFamily):
        family = node.family
        return lambda customer, families, seen, now_us: family in families
    if isinstance(node, Likelihood):
        code, wanted = node.product, frozenset(node.bands)

        def evaluate_likelihood(
            customer: CustomerContext, families: frozenset[str], seen: Seen, now_us: int | None
        ) -> bool:
            if code in seen:
                found = seen[code]
            elif likelihoods is None:
                raise _unbound(code)
            else:
                found = seen[code] = likelihoods.seen(code, customer, families, now_us)
            return found is not None and found.band in wanted

        return evaluate_likelihood
    if isinstance(node, Not):
        child = _compile(node.child, likelihoods)
        return lambda customer, families, seen, now_us: not child(customer, families, seen, now_us)
    children = tuple(_compile(child, likelihoods) for child in node.children)
    if isinstance(node, And):
        return lambda customer, families, seen, now_us: all(
            child(customer, families, seen, now_us) for child in children
        )
    return lambda customer, families, seen, now_us: any(
        child(customer, families, seen, now_us) for child in children
    )


# --- vectorised evaluation ---------------------------------------------------------------------


class ColumnSource(Protocol):
    """What the NumPy evaluator needs from a columnar batch of customers."""

    @property
    def size(self) -> int: ...

    def number(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(float64 values, present mask) of a number field or attribute."""
        ...

    def string(self, name: str) -> tuple[np.ndarray, Mapping[str, int]]:
        """(int32 codes with -1 for missing, category -> code) of a string field."""
        ...

    def boolean(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(bool values, present mask) of a bool field or attribute."""
        ...

    def holds_product(self, code: str) -> np.ndarray: ...

    def holds_family(self, family: str) -> np.ndarray: ...


_NP_OPS: dict[str, Callable[[np.ndarray, Any], np.ndarray]] = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


# product -> the batch's band ranks (``bands.RANK``; -1: the product is unknown)
Ranks = dict[str, np.ndarray]


def _ranks(
    product: str,
    source: ColumnSource,
    likelihoods: Likelihoods | None,
    memo: Ranks,
    now_us: int | None,
) -> np.ndarray:
    ranks = memo.get(product)
    if ranks is None:
        if likelihoods is None:
            raise _unbound(product)
        propensity = likelihoods.propensities(product, source, now_us)
        if propensity is None:
            ranks = np.full(source.size, -1, dtype=np.int8)
        else:
            ranks = band_ranks(propensity)
        memo[product] = ranks
    return ranks


def _mask(
    node: Node,
    source: ColumnSource,
    likelihoods: Likelihoods | None,
    memo: Ranks,
    now_us: int | None,
) -> np.ndarray:
    size = source.size
    if isinstance(node, Const):
        return np.full(size, node.value, dtype=bool)
    if isinstance(node, Compare | InList):
        values = (node.value,) if isinstance(node, Compare) else node.values
        op = node.op if isinstance(node, Compare) else "=="
        negated = (isinstance(node, InList) and node.negated) or op == "!="
        if node.kind == STRING:
            codes, categories = source.string(node.field)
            wanted = [categories[v] for v in values if v in categories]  # type: ignore[index]
            if not wanted:
                hit = np.zeros(size, dtype=bool)
            elif len(wanted) == 1:
                hit = codes == wanted[0]
            else:
                hit = np.isin(codes, np.asarray(wanted, dtype=codes.dtype))
            return (codes >= 0) & ~hit if negated else hit
        if node.kind == NUMBER:
            data, present = source.number(node.field)
        else:
            data, present = source.boolean(node.field)
        if isinstance(node, Compare):
            return present & _NP_OPS[op](data, node.value)
        hit = np.isin(data, np.asarray(values, dtype=data.dtype))
        return present & (~hit if negated else hit)
    if isinstance(node, Holds):
        return source.holds_product(node.product)
    if isinstance(node, HoldsFamily):
        return source.holds_family(node.family)
    if isinstance(node, Likelihood):
        ranks = _ranks(node.product, source, likelihoods, memo, now_us)
        return np.isin(ranks, np.asarray([RANK[b] for b in node.bands], dtype=np.int8))
    if isinstance(node, Not):
        return ~_mask(node.child, source, likelihoods, memo, now_us)
    children = iter(node.children)
    result = _mask(next(children), source, likelihoods, memo, now_us).copy()
    for child in children:
        if isinstance(node, And):
            result &= _mask(child, source, likelihoods, memo, now_us)
        else:
            result |= _mask(child, source, likelihoods, memo, now_us)
    return result


# --- the public rule object ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed, type-checked rule, compiled once for scalar evaluation.

    ``likelihoods``: the snapshot models its ``likelihood(...)`` terms read (``bind``);
    equality and hashing are the tree's alone, so a rule bound to a snapshot equals its
    text parsed again."""

    root: Node
    likelihoods: Likelihoods | None = field(default=None, repr=False, compare=False, hash=False)
    _evaluate: Evaluator = field(init=False, repr=False, compare=False, hash=False)
    _text: str = field(init=False, repr=False, compare=False, hash=False)
    _fields: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)
    _products: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)
    _families: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)
    _likely: tuple[str, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        nodes = list(_walk(self.root))
        object.__setattr__(self, "_evaluate", _compile(self.root, self.likelihoods))
        object.__setattr__(self, "_text", _to_text(self.root))
        object.__setattr__(
            self, "_fields", frozenset(n.field for n in nodes if isinstance(n, Compare | InList))
        )
        object.__setattr__(
            self, "_products", frozenset(n.product for n in nodes if isinstance(n, Holds))
        )
        object.__setattr__(
            self, "_families", frozenset(n.family for n in nodes if isinstance(n, HoldsFamily))
        )
        object.__setattr__(
            self,
            "_likely",
            tuple(sorted({n.product for n in nodes if isinstance(n, Likelihood)})),
        )

    @property
    def always_true(self) -> bool:
        return isinstance(self.root, Const) and self.root.value

    def bind(self, likelihoods: Likelihoods) -> Rule:
        """The rule reading ``likelihoods`` (a snapshot's models) for its likelihood terms,
        compiled once; a rule without such a term is returned as it is."""
        if not self._likely or self.likelihoods is likelihoods:
            return self
        return Rule(self.root, likelihoods)

    def evaluate(
        self, customer: CustomerContext, held_families: frozenset[str], now_us: int | None = None
    ) -> bool:
        """True when the customer matches; ``held_families`` are the held products' families,
        ``now_us`` the decision's clock (what a likelihood term's model reads it as of)."""
        return self._evaluate(customer, held_families, {}, now_us)

    def explain(
        self, customer: CustomerContext, held_families: frozenset[str], now_us: int | None = None
    ) -> tuple[bool, Seen]:
        """The verdict and what each likelihood term read (product -> propensity, band,
        model or prior; None for a product the snapshot does not know), every product the
        rule names included, each read once."""
        seen: Seen = {}
        passed = self._evaluate(customer, held_families, seen, now_us)
        for product in self._likely:
            if product not in seen:
                if self.likelihoods is None:
                    raise _unbound(product)
                seen[product] = self.likelihoods.seen(product, customer, held_families, now_us)
        return passed, seen

    def mask(self, source: ColumnSource, now_us: int | None = None) -> np.ndarray:
        """The rule over a columnar batch as of the clock ``now_us``: one bool per customer."""
        return _mask(self.root, source, self.likelihoods, {}, now_us)

    def fields(self) -> frozenset[str]:
        """Fields and attributes the rule reads, e.g. ``{"age", "attributes.gender"}``."""
        return self._fields

    def products_referenced(self) -> frozenset[str]:
        return self._products

    def families_referenced(self) -> frozenset[str]:
        return self._families

    def likelihood_products(self) -> tuple[str, ...]:
        """Products whose likelihood band the rule reads, sorted (``likelihood("P")``)."""
        return self._likely

    def to_text(self) -> str:
        """Canonical text: ``parse_rule(rule.to_text()) == rule``."""
        return self._text

    def __str__(self) -> str:
        return self._text


ALWAYS = Rule(Const(True))


def parse_rule(text: str) -> Rule:
    """Parse and type-check a rule; blank text is the rule that is always true."""
    if not isinstance(text, str):
        raise RuleError(f"expected rule text, found {type(text).__name__}", 0)
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(
            f"expected at most {MAX_RULE_LENGTH} characters at position {MAX_RULE_LENGTH}, "
            f"found {len(text)}",
            MAX_RULE_LENGTH,
        )
    return Rule(_Parser(text).parse())


# --- rules over an event's payload ------------------------------------------------------------

PayloadEvaluator = Callable[[Mapping[str, Any]], bool]


def _payload_getter(name: str, kind: FieldType) -> Callable[[Mapping[str, Any]], Any]:
    path = tuple(name.split("."))

    def get(payload: Mapping[str, Any]) -> Any:
        value: Any = payload
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return coerce(value, kind)

    return get


def _compile_payload(node: Node) -> PayloadEvaluator:
    if isinstance(node, Const):
        constant = node.value
        return lambda payload: constant
    if isinstance(node, Compare):
        get = _payload_getter(node.field, node.kind)
        compare = _PY_OPS[node.op]
        literal = node.value

        def evaluate_compare(payload: Mapping[str, Any]) -> bool:
            value = get(payload)
            return value is not None and compare(value, literal)

        return evaluate_compare
    if isinstance(node, InList):
        get = _payload_getter(node.field, node.kind)
        members = frozenset(node.values)
        negated = node.negated

        def evaluate_in(payload: Mapping[str, Any]) -> bool:
            value = get(payload)
            return value is not None and ((value in members) != negated)

        return evaluate_in
    if isinstance(node, Not):
        child = _compile_payload(node.child)
        return lambda payload: not child(payload)
    if isinstance(node, And | Or):
        children = tuple(_compile_payload(child) for child in node.children)
        if isinstance(node, And):
            return lambda payload: all(child(payload) for child in children)
        return lambda payload: any(child(payload) for child in children)
    raise TypeError(f"a payload rule cannot hold {type(node).__name__}")  # parser refuses it


@dataclass(frozen=True, slots=True)
class PayloadRule:
    """A rule over an event's payload (a trigger condition), e.g.
    ``merchant_category in ("fuel") and amount >= 50``.

    The language is the customer rules' one, over payload keys instead of customer
    fields: any name is a key (``a.b`` reads ``payload["a"]["b"]``), typed by the value
    it is compared with; ``holds(...)`` and ``holds_family(...)`` read the customer and
    are refused. A key that is missing or of another type makes its comparisons false
    (``!=`` and ``not in`` included), exactly as for customer attributes.
    """

    root: Node
    _evaluate: PayloadEvaluator = field(init=False, repr=False, compare=False, hash=False)
    _text: str = field(init=False, repr=False, compare=False, hash=False)
    _fields: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_evaluate", _compile_payload(self.root))
        object.__setattr__(self, "_text", _to_text(self.root))
        object.__setattr__(
            self,
            "_fields",
            frozenset(n.field for n in _walk(self.root) if isinstance(n, Compare | InList)),
        )

    @property
    def always_true(self) -> bool:
        return isinstance(self.root, Const) and self.root.value

    def evaluate(self, payload: Mapping[str, Any]) -> bool:
        """True when the payload matches; a payload that is not a mapping matches nothing
        but the empty rule."""
        if not isinstance(payload, Mapping):
            return self.always_true
        return self._evaluate(payload)

    def fields(self) -> frozenset[str]:
        """The payload keys the rule reads, e.g. ``{"merchant_category", "amount"}``."""
        return self._fields

    def to_text(self) -> str:
        """Canonical text: ``parse_payload_rule(rule.to_text()) == rule``."""
        return self._text

    def __str__(self) -> str:
        return self._text


PAYLOAD_ALWAYS = PayloadRule(Const(True))


def parse_payload_rule(text: str) -> PayloadRule:
    """Parse and type-check a condition on an event's payload; blank text always matches.

    Raises ``RuleError`` (with the 0-based ``position``) for syntax and type errors;
    unknown key names are allowed, since payloads vary by event type.
    """
    if not isinstance(text, str):
        raise RuleError(f"expected rule text, found {type(text).__name__}", 0)
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(
            f"expected at most {MAX_RULE_LENGTH} characters at position {MAX_RULE_LENGTH}, "
            f"found {len(text)}",
            MAX_RULE_LENGTH,
        )
    return PayloadRule(_Parser(text, payload=True).parse())


def protected_fields_used(rule: Rule) -> frozenset[str]:
    """Protected attributes (``PROTECTED_ATTRIBUTES``) the rule reads, e.g. for credit offers."""
    return frozenset(name for name in rule.fields() if is_protected(name))


__all__ = [
    "ALWAYS",
    "PAYLOAD_ALWAYS",
    "PROTECTED_ATTRIBUTES",
    "ColumnSource",
    "Likelihoods",
    "PayloadRule",
    "Rule",
    "RuleError",
    "parse_payload_rule",
    "parse_rule",
    "protected_fields_used",
]
