"""List filters that mean what the schema says: a filter given empty is a 400, not
"no filter" (django-filter's default), so the enum in the schema is the whole truth."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError


class StrictFilterSet(django_filters.FilterSet):
    def is_valid(self) -> bool:
        valid = super().is_valid()
        empty = [
            name
            for name in self.filters
            if name in self.data and any(value == "" for value in self.data.getlist(name))
        ]
        for name in empty:
            self.form.add_error(name, ValidationError("May not be empty."))
        return valid and not empty


def query_dict(query_params) -> dict[str, str]:
    """Query parameters as a plain dict (the last value of each), so serializers validate
    an empty value instead of treating it as absent (as they do for HTML forms)."""
    return {key: query_params.getlist(key)[-1] for key in query_params}
