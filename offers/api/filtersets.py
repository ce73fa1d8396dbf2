import django_filters

from core.api.filters import StrictFilterSet
from offers.choices import OfferKind, ProductFamily
from offers.models import Offer


class OfferApiFilterSet(StrictFilterSet):
    family = django_filters.ChoiceFilter(
        field_name="product__family", choices=ProductFamily.choices, label="Product family"
    )
    kind = django_filters.ChoiceFilter(choices=OfferKind.choices)
    product = django_filters.CharFilter(
        field_name="product__code", label="Product code", max_length=32
    )

    class Meta:
        model = Offer
        fields = ["family", "kind", "product"]
