"""Routes under ``/v1/projects/<project_id>/``."""

from __future__ import annotations

from django.urls import path

from projects.push import views

urlpatterns = [
    path("push/credentials", views.CredentialsView.as_view(), name="push-credentials"),
    path("push/devices", views.DevicesView.as_view(), name="push-devices"),
    path("push/devices/<str:token>", views.DeviceView.as_view(), name="push-device"),
    path("push/devices/<str:token>/topics/<str:topic>", views.DeviceTopicView.as_view(), name="push-device-topic"),
    path("push/messages", views.MessagesView.as_view(), name="push-messages"),
    path("push/messages/<str:message_id>", views.MessageView.as_view(), name="push-message"),
    path("push/messages/<str:message_id>/deliveries", views.MessageDeliveriesView.as_view(), name="push-message-deliveries"),
]
