"""Typed columns for batch evaluation, with missing values made explicit.

Numbers are float64 with a ``present`` mask, strings are categorical (int32 codes, -1
for missing, plus the category list), booleans are values with a ``present`` mask. Free
attributes can hold any JSON type per customer, so an ``AttributeColumn`` keeps one view
per type; a rule picks the view its comparison needs (another type counts as missing,
exactly as in scalar evaluation, because both go through ``fields.coerce``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fields import coerce_bool, coerce_number, coerce_string


@dataclass(frozen=True, slots=True)
class NumberColumn:
    values: np.ndarray  # float64
    present: np.ndarray  # bool

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> NumberColumn:
        """From raw values; anything that is not a finite number is missing."""
        coerced = [coerce_number(value) for value in values]
        present = np.fromiter((v is not None for v in coerced), dtype=bool, count=len(coerced))
        data = np.fromiter(
            (0.0 if v is None else v for v in coerced), dtype=np.float64, count=len(coerced)
        )
        return cls(data, present)

    @classmethod
    def from_array(cls, array: Sequence[float] | np.ndarray) -> NumberColumn:
        """From a numeric array where NaN (and +-inf) mark missing values."""
        data = np.asarray(array, dtype=np.float64)
        present = np.isfinite(data)
        return cls(np.where(present, data, 0.0), present)

    @classmethod
    def missing(cls, size: int) -> NumberColumn:
        return cls(np.zeros(size, dtype=np.float64), np.zeros(size, dtype=bool))

    def take(self, start: int, stop: int) -> NumberColumn:
        return NumberColumn(self.values[start:stop], self.present[start:stop])


@dataclass(frozen=True, slots=True)
class StringColumn:
    codes: np.ndarray  # int32, -1 = missing
    categories: tuple[str, ...]
    index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "index", {value: code for code, value in enumerate(self.categories)}
        )

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> StringColumn:
        """From raw values; anything that is not a string is missing."""
        index: dict[str, int] = {}
        codes: list[int] = []
        for value in values:
            text = coerce_string(value)
            if text is None:
                codes.append(-1)
            else:
                codes.append(index.setdefault(text, len(index)))
        return cls(np.asarray(codes, dtype=np.int32), tuple(index))

    @classmethod
    def missing(cls, size: int) -> StringColumn:
        return cls(np.full(size, -1, dtype=np.int32), ())

    @property
    def present(self) -> np.ndarray:
        return self.codes >= 0

    def with_codes(self, codes: np.ndarray) -> StringColumn:
        """The same categories (and index, not rebuilt) over other rows."""
        column = object.__new__(StringColumn)
        object.__setattr__(column, "codes", codes)
        object.__setattr__(column, "categories", self.categories)
        object.__setattr__(column, "index", self.index)
        return column

    def take(self, start: int, stop: int) -> StringColumn:
        return self.with_codes(self.codes[start:stop])


@dataclass(frozen=True, slots=True)
class BoolColumn:
    values: np.ndarray  # bool
    present: np.ndarray  # bool

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> BoolColumn:
        coerced = [coerce_bool(value) for value in values]
        present = np.fromiter((v is not None for v in coerced), dtype=bool, count=len(coerced))
        data = np.fromiter((bool(v) for v in coerced), dtype=bool, count=len(coerced))
        return cls(data, present)

    @classmethod
    def missing(cls, size: int) -> BoolColumn:
        return cls(np.zeros(size, dtype=bool), np.zeros(size, dtype=bool))

    def take(self, start: int, stop: int) -> BoolColumn:
        return BoolColumn(self.values[start:stop], self.present[start:stop])


@dataclass(frozen=True, slots=True)
class AttributeColumn:
    """One free attribute over a batch, viewed as number, string and bool."""

    number: NumberColumn
    string: StringColumn
    boolean: BoolColumn

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> AttributeColumn:
        return cls(
            NumberColumn.from_values(values),
            StringColumn.from_values(values),
            BoolColumn.from_values(values),
        )

    @classmethod
    def from_numbers(cls, array: Sequence[float] | np.ndarray) -> AttributeColumn:
        number = NumberColumn.from_array(array)
        size = len(number.values)
        return cls(number, StringColumn.missing(size), BoolColumn.missing(size))

    def take(self, start: int, stop: int) -> AttributeColumn:
        return AttributeColumn(
            self.number.take(start, stop),
            self.string.take(start, stop),
            self.boolean.take(start, stop),
        )


Column = NumberColumn | StringColumn | BoolColumn
