from django.urls import path

from compliance.api import views

urlpatterns = [
    path("audit/", views.AuditRecordListView.as_view(), name="audit-list"),
    path("audit/verify/", views.AuditVerifyView.as_view(), name="audit-verify"),
]
