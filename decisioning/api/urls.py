from django.urls import path

from decisioning.api import customers, runs, views

urlpatterns = [
    path("events/", views.EventCreateView.as_view(), name="event-create"),
    path("decisions/", views.DecisionCreateView.as_view(), name="decision-create"),
    path(
        "decisions/<uuid:decision_id>/",
        views.DecisionDetailView.as_view(),
        name="decision-detail",
    ),
    path(
        "channels/<str:channel>/messages/lease/",
        views.MessageLeaseView.as_view(),
        name="messages-lease",
    ),
    path("messages/<uuid:message_id>/ack/", views.MessageAckView.as_view(), name="message-ack"),
    path("responses/", views.ResponseCreateView.as_view(), name="response-create"),
    path("overrides/", views.OverrideCreateView.as_view(), name="override-create"),
    path("runs/<int:run_id>/", runs.RunDetailView.as_view(), name="run-detail"),
    path("runs/<int:run_id>/resume/", runs.RunResumeView.as_view(), name="run-resume"),
    path("customers/<str:external_id>/", customers.CustomerView.as_view(), name="customer"),
    path(
        "customers/<str:external_id>/identities/",
        customers.IdentityCreateView.as_view(),
        name="customer-identities",
    ),
    path(
        "customers/<str:external_id>/consents/<str:channel>/",
        customers.ConsentView.as_view(),
        name="customer-consent",
    ),
]
