import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

INTEGER = re.compile(r"-?[0-9]{1,18}\Z")
MAX_OFFSET = 1_000_000_000


class DefaultPagination(LimitOffsetPagination):
    """``limit`` (1-1000, default 100) and ``offset`` (0-10^9). A value that is not such an
    integer is a 400, not silently replaced (the schema says what is accepted)."""

    default_limit = 100
    max_limit = 1000

    def _integer(self, request, name: str, minimum: int, maximum: int | None):
        values = request.query_params.getlist(name)
        if not values:
            return None
        if len(values) > 1:
            raise ValidationError({name: ["Give it once."]})
        if not INTEGER.match(values[0]):
            raise ValidationError({name: ["Must be an integer."]})
        value = int(values[0])
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
            raise ValidationError({name: [f"Must be {bound}."]})
        return value

    def get_limit(self, request):
        limit = self._integer(request, self.limit_query_param, 1, self.max_limit)
        return self.default_limit if limit is None else limit

    def get_offset(self, request):
        offset = self._integer(request, self.offset_query_param, 0, MAX_OFFSET)
        return offset or 0

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(
                    {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit}
                )
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"].update({"minimum": 0, "maximum": MAX_OFFSET, "default": 0})
        return parameters
