"""``core.forms.QuickSelect`` writes exactly the markup Django's ``Select`` template does."""

import pytest
from django import forms

from core.forms import QuickSelect

CHOICES = [
    ("", "---------"),
    ("1", "Gold card <upgrade> & more"),
    ("2", 'Say "yes"'),
    ("Loans", [("3", "Car loan"), ("4", "Personal loan")]),
]


@pytest.mark.parametrize("value", [None, "", "2", "4", ["1", "3"]])
@pytest.mark.parametrize(
    "attrs",
    [None, {"id": "id_offer", "class": "field", "aria-label": "Offer (row 3)", "required": True}],
)
def test_quick_select_renders_what_django_s_select_renders(value, attrs):
    django_select = forms.Select(choices=CHOICES)
    quick = QuickSelect(choices=CHOICES)
    assert quick.render("offers-3-offer", value, attrs) == django_select.render(
        "offers-3-offer", value, attrs
    )


def test_a_disabled_attribute_is_left_out_when_false():
    html = QuickSelect(choices=CHOICES).render("x", "1", {"disabled": False, "data-x": "a&b"})
    assert "disabled" not in html and 'data-x="a&amp;b"' in html
    assert '<option value="1" selected>Gold card &lt;upgrade&gt; &amp; more</option>' in html
