"""Routes under ``/v1/projects/<project_id>/``."""

from __future__ import annotations

from django.urls import path

from projects.webhooks import views

urlpatterns = [
    path("webhooks", views.EndpointsView.as_view(), name="webhooks"),
    path("webhooks/<str:endpoint_id>:rotateSecret", views.EndpointSecretRotateView.as_view(), name="webhook-rotate-secret"),
    path("webhooks/<str:endpoint_id>", views.EndpointView.as_view(), name="webhook"),
    path("webhooks/<str:endpoint_id>/deliveries", views.DeliveriesView.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>:redeliver",
        views.RedeliverView.as_view(),
        name="webhook-redeliver",
    ),
]
