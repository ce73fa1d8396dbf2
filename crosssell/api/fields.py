"""Serializer fields the contract needs: aware times, JSON objects, customer references."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crosssell.api.parsers import storable
from customers.choices import IdentifierType
from customers.identity import customer_reference_errors

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
    """A free JSON object. NUL characters and unpaired surrogates, which no database
    stores, are replaced with U+FFFD; deeper than 32 levels or a non-finite number is a
    400."""

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


CUSTOMER_REFERENCE_SCHEMA = {
    "description": (
        'How the channel names the customer: `{"external_id": "C123"}` or '
        '`{"identifier": {"type": "card_token", "value": "..."}}`.'
    ),
    "oneOf": [
        {
            "type": "object",
            "title": "ByExternalId",
            "properties": {
                "external_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "pattern": NOT_BLANK_TEXT_PATTERN,
                }
            },
            "required": ["external_id"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "ByIdentifier",
            "properties": {
                "identifier": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": list(IdentifierType.values)},
                        "value": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 256,
                            "pattern": TEXT_PATTERN,
                        },
                    },
                    "required": ["type", "value"],
                    "additionalProperties": False,
                }
            },
            "required": ["identifier"],
            "additionalProperties": False,
        },
    ],
}


@extend_schema_field(CUSTOMER_REFERENCE_SCHEMA)
class CustomerReferenceField(serializers.Field):
    """``{"external_id": ...}`` or ``{"identifier": {"type", "value"}}``, nothing else."""

    default_error_messages = {
        "shape": "Give exactly one of external_id or identifier, and nothing else.",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or len(data) != 1:
            self.fail("shape")
        if "identifier" in data:
            identifier = data["identifier"]
            if not isinstance(identifier, dict) or set(identifier) != {"type", "value"}:
                raise serializers.ValidationError(
                    {"identifier": ["Must be an object with exactly type and value."]}
                )
        elif "external_id" not in data:
            self.fail("shape")
        values = [data.get("external_id")]
        if isinstance(data.get("identifier"), dict):
            values.append(data["identifier"].get("value"))
        if any(isinstance(value, str) and "\x00" in value for value in values):
            raise serializers.ValidationError("May not contain NUL characters.")
        errors = customer_reference_errors(data)
        if errors:
            # The helper names fields "customer.x"; nested errors get our own prefix.
            raise serializers.ValidationError(
                {
                    (
                        "non_field_errors" if key == "customer" else key.removeprefix("customer.")
                    ): value
                    for key, value in errors.items()
                }
            )
        return data

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
