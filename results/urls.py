from django.urls import path

from results import views

app_name = "results"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("campaigns/<int:pk>/", views.campaign_results, name="campaign"),
]
