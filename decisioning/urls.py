"""Decision ledger, Customer 360, consent changes and erasure.

Mounted at the site root: Customer 360 sits under ``customers/`` and erasure under
``compliance/`` where people look for them, but both read or orchestrate every layer, so
their views belong to the highest layer (see ``decisioning.views``, one module a screen).
"""

from django.urls import path

from decisioning.views import audience, customers, decisions, erasure, models, rules, runs

app_name = "decisioning"

urlpatterns = [
    path("decisions/", decisions.decision_list, name="decision_list"),
    path("decisions/<uuid:pk>/", decisions.decision_detail, name="decision_detail"),
    path("decisions/<uuid:pk>/explanation/", decisions.decision_explain, name="decision_explain"),
    path("customers/<str:external_id>/", customers.customer_360, name="customer_360"),
    path("customers/<str:external_id>/consents/", customers.consent_change, name="consent_change"),
    path(
        "customers/<str:external_id>/offer-now/",
        customers.customer_offer_now,
        name="customer_offer_now",
    ),
    path(
        "customers/<str:external_id>/decisions/<uuid:pk>/replay/",
        customers.customer_replay,
        name="customer_replay",
    ),
    path(
        "customers/<str:external_id>/do-not-contact/",
        customers.do_not_contact,
        name="do_not_contact",
    ),
    path("compliance/erasure/", erasure.erasure_list, name="erasure_list"),
    path("models/", models.model_list, name="model_list"),
    path("models/<str:code>/", models.model_detail, name="model_detail"),
    path("models/<str:code>/train/", models.model_train_request, name="model_train"),
    path("rules/check/", rules.rule_check, name="rule_check"),
    path("campaigns/audience/count/", audience.audience_count_view, name="audience_count"),
    path("campaigns/<int:pk>/runs/start/", runs.run_start, name="run_start"),
    path("campaigns/runs/<int:pk>/resume/", runs.run_resume, name="run_resume"),
    path("campaigns/<int:pk>/simulate/", runs.campaign_simulate, name="campaign_simulate"),
]
