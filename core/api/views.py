"""The API's base view: strict JSON in, roles checked, no OPTIONS metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.views import APIView

from core.api.parsers import SafeJSONParser
from core.api.permissions import HasRole

if TYPE_CHECKING:
    # the mixin is only ever mixed into APIView subclasses: type it as one
    _ApiMixinBase = APIView
else:
    _ApiMixinBase = object


class ApiMixin(_ApiMixinBase):
    """Every endpoint: strict JSON in, roles checked (``allowed_roles``), and no OPTIONS
    metadata (405), so the methods a path answers are exactly those in the schema."""

    parser_classes = [SafeJSONParser]
    permission_classes = [HasRole]
    metadata_class = None
    allowed_roles: frozenset[str] | dict[str, frozenset[str]] = frozenset()

    @property
    def client(self):
        return self.request.auth


class ApiView(ApiMixin, APIView):
    pass


def validated(serializer_class, data) -> dict:
    """The input serializer's validated data, or 400 in the one error shape."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
