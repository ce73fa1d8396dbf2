"""The contract's customer reference: ``{"external_id"}`` or ``{"identifier": {type, value}}``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import NOT_BLANK_TEXT_PATTERN, TEXT_PATTERN
from customers.choices import IdentifierType
from customers.identity import customer_reference_errors

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
