"""The /api/ root: version 1 of the channel contract, its OpenAPI schema and docs.

Anything under /api/ that no endpoint matches is a 404 in the contract's error shape;
wrong methods are 405 in the same shape (DRF, through the exception handler).
"""

from django.urls import include, path, re_path

from crosssell.api import views

app_name = "api"

v1 = [
    path("health/", views.HealthView.as_view(), name="health"),
    path("whoami/", views.WhoAmIView.as_view(), name="whoami"),
    path("", include("decisioning.api.urls")),
    path("", include("offers.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("compliance.api.urls")),
    path("", include("results.api.urls")),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", views.ApiSchemaView.as_view(), name="schema"),
    path("docs/", views.ApiDocsView.as_view(url_name="api:schema"), name="docs"),
    path("docs/assets/<str:filename>", views.docs_asset, name="docs-asset"),
    re_path(r"^(?P<path>[\s\S]*)\Z", views.api_not_found),
]
