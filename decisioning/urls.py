"""Decision ledger, Customer 360, consent changes and erasure.

Mounted at the site root: Customer 360 sits under ``customers/`` and erasure under
``compliance/`` where people look for them, but both read or orchestrate every layer, so
their views belong to the highest layer (see ``decisioning.views``).
"""

from django.urls import path

from decisioning import views

app_name = "decisioning"

urlpatterns = [
    path("decisions/", views.decision_list, name="decision_list"),
    path("decisions/<uuid:pk>/", views.decision_detail, name="decision_detail"),
    path("decisions/<uuid:pk>/explanation/", views.decision_explain, name="decision_explain"),
    path("customers/<str:external_id>/", views.customer_360, name="customer_360"),
    path("customers/<str:external_id>/consents/", views.consent_change, name="consent_change"),
    path(
        "customers/<str:external_id>/do-not-contact/",
        views.do_not_contact,
        name="do_not_contact",
    ),
    path("compliance/erasure/", views.erasure_list, name="erasure_list"),
    path("rules/check/", views.rule_check, name="rule_check"),
    path("campaigns/<int:pk>/runs/start/", views.run_start, name="run_start"),
    path("campaigns/<int:pk>/simulate/", views.campaign_simulate, name="campaign_simulate"),
]
