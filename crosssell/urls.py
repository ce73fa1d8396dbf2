"""Root URLs: the channel API, the console (sign-in, dashboard, health and each app's
screens) and admin.

``decisioning.urls`` is mounted at the root on purpose: its screens (Customer 360,
erasure, batch runs) sit under the paths people expect (``customers/``, ``compliance/``,
``campaigns/``) but read or orchestrate every layer, so they belong to the highest one.
Django tries the app includes first and falls through to it.

``metrics`` is Prometheus's scrape (``crosssell.observability.views``), without a
trailing slash as scrapers ask for it.
"""

from django.contrib import admin
from django.urls import include, path

from crosssell import views
from crosssell.observability.views import metrics

urlpatterns = [
    path("api/", include("crosssell.api.urls")),
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("health/", views.health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("offers/", include("offers.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("customers/", include("customers.urls")),
    path("compliance/", include("compliance.urls")),
    path("results/", include("results.urls")),
    path("", include("decisioning.urls")),
    path("admin/", admin.site.urls),
]
