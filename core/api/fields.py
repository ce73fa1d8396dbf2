"""Serializer fields the contract needs: aware times, JSON objects, strict scalars."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.parsers import storable

# Strings are taken as sent and may not contain NUL (PostgreSQL cannot store it); the
# patterns go into the schema too, so what it calls valid is exactly what is accepted.
TEXT_PATTERN = r"^[^\x00]*$"
NOT_BLANK_TEXT_PATTERN = r"^\s*[^\s\x00][^\x00]*$"
TEXT = RegexValidator(TEXT_PATTERN, message="May not contain NUL characters.")
NOT_BLANK_TEXT = RegexValidator(
    NOT_BLANK_TEXT_PATTERN, message="May not be blank or contain NUL characters."
)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset, as the contract says; a time without one is refused."""

    default_error_messages = {
        "naive": "Give the time with a UTC offset (e.g. 2026-01-31T09:30:00Z)."
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.Field):
    """A free JSON object. NUL characters, which no database stores, are replaced with
    U+FFFD (unpaired surrogates never get here: the parser refuses them with a 400);
    deeper than 32 levels or a non-finite number is a 400."""

    default_error_messages = {"not_an_object": "Must be a JSON object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        try:
            return storable(data)
        except ValueError as exc:
            raise serializers.ValidationError(f"Cannot be stored: {exc}.") from None

    def to_representation(self, value):
        return value


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF would turn 0 into "0")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (2.0 counts, as in JSON Schema); not "2", not true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not data.is_integer():
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number; not "0.5", not true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID as a JSON string (DRF would also take an integer)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


def text(max_length: int, *, blank: bool = False, **kwargs: Any) -> serializers.CharField:
    """A string field whose schema says exactly what it accepts: a JSON string, taken as
    sent (no trimming, so the schema's lengths hold), without NUL, and for non-blank ones
    with a character other than whitespace."""
    validators = list(kwargs.pop("validators", []))
    validators.append(TEXT if blank else NOT_BLANK_TEXT)
    return StrictCharField(
        max_length=max_length,
        min_length=None if blank else 1,
        allow_blank=blank,
        trim_whitespace=False,
        validators=validators,
        **kwargs,
    )
