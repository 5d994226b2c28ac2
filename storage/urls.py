"""Under ``/v1/projects/<project_id>/``."""

from __future__ import annotations

from django.urls import path, re_path

from storage import http, views

urlpatterns = [
    path("buckets", views.BucketsView.as_view(), name="buckets"),
    path("buckets/<str:bucket>", views.BucketView.as_view(), name="bucket"),
    path("storage/usage", views.StorageUsageView.as_view(), name="storage-usage"),
    re_path(r"^buckets/(?P<bucket>[^/]+)/objects(?:/(?P<object_path>(?s:.*)))?$", http.object_view, name="objects"),
]
