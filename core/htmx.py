"""One way to answer a console request: the full page, or for htmx only its fragment.

A page template includes its partial (``templates/<app>/partials/...``), so the same
markup is rendered in both cases and the page works without JavaScript; an htmx request
(``request.htmx`` from django-htmx) gets the fragment alone. History restores and boosted
navigations need the whole page, so they get it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_partial(request: HttpRequest) -> bool:
    details = getattr(request, "htmx", None)
    if not details:
        return False
    return not (details.boosted or details.history_restore_request)


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render ``template``, or ``partial`` when htmx asked for a fragment."""
    chosen = partial if partial and wants_partial(request) else template
    response = render(request, chosen, context or {}, status=status)
    if partial:
        # The same URL answers with two bodies; caches must keep them apart.
        patch_vary_headers(response, ("HX-Request",))
    return response


def confirmation_page(
    request: HttpRequest,
    *,
    title: str,
    consequence: str,
    button: str,
    keep: str,
    back: str,
    carry: tuple[str, ...] = (),
) -> HttpResponse:
    """The second step of an irreversible action: what it will do, and a button that posts
    the same action again with ``confirm=yes`` (no script, so it works under the CSP).
    The posted fields named in ``carry`` (the reason given, the channel chosen) are posted
    again with it, so nothing typed on the first step is lost."""
    context = {
        "confirm": {
            "title": title,
            "consequence": consequence,
            "button": button,
            "keep": keep,
            "back": back,
            "action": request.path,
            "carry": [(name, value) for name in carry for value in request.POST.getlist(name)],
        }
    }
    response = render(request, "partials/confirm.html", context)
    if wants_partial(request):
        # Asked from a fragment (a panel's form): the question takes the page's main area,
        # and its plain form posts the whole page back.
        response["HX-Retarget"] = "#content"
        response["HX-Reselect"] = "#content"
        response["HX-Reswap"] = "outerHTML"
    return response


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirm") == "yes"
