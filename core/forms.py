"""Console form plumbing shared by every app: service errors shown on the form, a quick
select widget."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from core.exceptions import ApplicationError


def add_service_error(form: forms.BaseForm, error: ApplicationError) -> None:
    """Put a service's refusal on the form: its message on top, field messages by field.

    Field names the form does not have (a service may name a model field the form calls
    differently) are shown with the top message, prefixed by the field name.
    """
    form.add_error(None, error.message)
    for name, messages in (error.fields or {}).items():
        for message in messages if isinstance(messages, list | tuple) else [messages]:
            if name in form.fields:
                form.add_error(name, str(message))
            else:
                form.add_error(None, f"{name}: {message}")


class ConsoleForm(forms.Form):
    """A plain form with the console's widget classes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class ConsoleModelForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


def _html_attrs(attrs: dict[str, Any]) -> str:
    """``django/forms/widgets/attrs.html`` in Python: a True value is a bare name."""
    return "".join(
        f" {name}" if value is True else f' {name}="{escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class QuickSelect(forms.Select):
    """Django's ``Select`` with its options written in Python rather than one template
    include each: a 50-row builder of 60 offers rendered 3,000 option templates, 285 ms
    of a 1M-decision bank's page. The markup is ``django/forms/widgets/select.html``'s to
    the byte (``tests/foundation/test_quick_select.py``)."""

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{escape(widget["name"])}"{_html_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{escape(group_name)}">')
            parts.extend(
                f'\n  <option value="{escape(option["value"])}"'
                f"{_html_attrs(option['attrs'])}>{escape(option['label'])}</option>\n"
                for option in options
            )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))


def style_fields(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
            continue
        css = widget.attrs.get("class", "")
        widget.attrs["class"] = f"{css} input".strip()


class ConsoleFilterSet(django_filters.FilterSet):
    """A django-filter FilterSet whose form has the console's widget classes."""

    @property
    def form(self):
        form = super().form
        if not getattr(form, "_console_styled", False):
            style_fields(form)
            form._console_styled = True
        return form


ANY_YES_NO = (("", "Any"), ("true", "Yes"), ("false", "No"))


def yes_no_filter(label: str, **kwargs) -> django_filters.BooleanFilter:
    """A boolean filter whose select reads Any / Yes / No (not django-filter's "Unknown")."""
    return django_filters.BooleanFilter(
        label=label, widget=forms.Select(choices=ANY_YES_NO), **kwargs
    )
