from django.urls import path

from offers import views

app_name = "offers"

urlpatterns = [
    path("", views.offer_list, name="offer_list"),
    path("new/", views.offer_create, name="offer_create"),
    path("<int:pk>/", views.offer_detail, name="offer_detail"),
    path("<int:pk>/edit/", views.offer_edit, name="offer_edit"),
    path("<int:pk>/status/<str:verb>/", views.offer_transition, name="offer_transition"),
    path("<int:pk>/targeting/submit/", views.offer_targeting_submit, name="offer_targeting_submit"),
    path(
        "<int:pk>/targeting/<int:version>/rollback/",
        views.offer_targeting_rollback,
        name="offer_targeting_rollback",
    ),
    path("<int:pk>/content/submit/", views.offer_content_submit, name="offer_content_submit"),
    path("<int:pk>/content/<str:channel>/", views.content_edit, name="content_edit"),
    path(
        "<int:pk>/content/<str:channel>/precheck/",
        views.content_precheck,
        name="content_precheck",
    ),
    path("content/<int:pk>/", views.content_redirect, name="content_redirect"),
    path("content/<int:pk>/submit/", views.content_submit, name="content_submit"),
    path("content/<int:pk>/rollback/", views.content_rollback, name="content_rollback"),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_create, name="product_create"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", views.product_edit, name="product_edit"),
]
