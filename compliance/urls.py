from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("approvals/", views.approval_list, name="approval_list"),
    path("approvals/<int:pk>/", views.approval_detail, name="approval_detail"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export/<str:fmt>/", views.audit_export, name="audit_export"),
    path("audit/verify/", views.ledger_verify, name="ledger_verify"),
    path(
        "customers/<str:external_id>/suppressions/",
        views.suppression_add,
        name="suppression_add",
    ),
    path(
        "customers/<str:external_id>/suppressions/<int:pk>/lift/",
        views.suppression_lift,
        name="suppression_lift",
    ),
]
