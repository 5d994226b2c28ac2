from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from baas import ops
from baas.api.edge import django_urlpatterns
from baas.routes import EDGE_ROUTES
from projects import views as project_views
from projects.documents import views as document_views

api_v1 = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("projects", project_views.ProjectsView.as_view(), name="projects"),
    path("projects/<str:project_id>", project_views.ProjectView.as_view(), name="project"),
    path("projects/<str:project_id>/keys", project_views.ApiKeysView.as_view(), name="api-keys"),
    path("projects/<str:project_id>/keys/<int:key_id>", project_views.ApiKeyView.as_view(), name="api-key"),
    path(
        "projects/<str:project_id>/keys/<int:key_id>:rotate",
        project_views.ApiKeyRotateView.as_view(),
        name="api-key-rotate",
    ),
    path("projects/<str:project_id>/members", project_views.MembersView.as_view(), name="members"),
    path("projects/<str:project_id>/collections", document_views.CollectionsView.as_view(), name="collections"),
    path(
        "projects/<str:project_id>/collections/<str:collection>",
        document_views.CollectionView.as_view(),
        name="collection",
    ),
    path("projects/<str:project_id>/", include("endusers.urls")),
    path("projects/<str:project_id>/", include("storage.urls")),
    path("projects/<str:project_id>/", include("functions.urls")),
    path("projects/<str:project_id>/", include("projects.push.urls")),
    path("projects/<str:project_id>/", include("projects.webhooks.urls")),
]

urlpatterns = [
    *django_urlpatterns(EDGE_ROUTES),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("v1/", include(api_v1)),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("console/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "baas.error_views.bad_request"
handler403 = "baas.error_views.permission_denied"
handler404 = "baas.error_views.page_not_found"
handler500 = "baas.error_views.server_error"
