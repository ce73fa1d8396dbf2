"""The API's base view: strict JSON in, roles checked, no OPTIONS metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.views import APIView

from core.api.parsers import SafeJSONParser
from core.api.permissions import HasRole
from core.exceptions import ValidationFailed

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
    # The query parameters a GET may name (besides the filterset's and the paginator's);
    # None with no filterset: the query string is not checked.
    query_parameters: frozenset[str] | None = None

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        allowed = self.allowed_query_parameters()
        if allowed is None:
            return
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            # A misspelt filter (``?kidn=consent``) would otherwise answer everything.
            raise ValidationFailed(
                "Unknown query parameter: "
                + ", ".join(ascii(name)[1:-1] for name in unknown)
                + f". This endpoint takes: {', '.join(sorted(allowed)) or 'none'}.",
                fields={
                    ascii(name)[1:-1]: ["not a parameter of this endpoint"] for name in unknown
                },
            )

    def allowed_query_parameters(self) -> frozenset[str] | None:
        filterset = getattr(self, "filterset_class", None)
        if self.query_parameters is None and filterset is None:
            return None
        names = set(self.query_parameters or ())
        if filterset is not None:
            names |= set(filterset.base_filters)
        paginator = getattr(self, "paginator", None)
        if paginator is not None:
            names |= {
                getattr(paginator, attribute)
                for attribute in ("limit_query_param", "offset_query_param", "page_query_param")
                if getattr(paginator, attribute, None)
            }
        return frozenset(names)

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
