"""Under ``/v1/projects/<project_id>/``. The ``:verb`` routes come first: a function name
cannot hold ':'. Calls (``functions/<name>:call``) are served by the HTTP edge
(functions/api.py)."""

from __future__ import annotations

from django.urls import path

from functions import views

urlpatterns = [
    path("functions", views.FunctionsView.as_view(), name="functions"),
    path("functions:discover", views.FunctionsDiscoverView.as_view(), name="functions-discover"),
    path("functions/<str:name>", views.FunctionView.as_view(), name="function"),
    path("functions/<str:name>/versions", views.VersionsView.as_view(), name="function-versions"),
    path("functions/<str:name>/versions/<str:version>", views.VersionView.as_view(), name="function-version"),
    path("functions/<str:name>/rollback", views.RollbackView.as_view(), name="function-rollback"),
    path("functions/<str:name>/executions", views.ExecutionsView.as_view(), name="function-executions"),
    path(
        "functions/<str:name>/executions/<str:execution_id>:replay",
        views.ExecutionReplayView.as_view(),
        name="function-execution-replay",
    ),
    path("functions/<str:name>/executions/<str:execution_id>", views.ExecutionView.as_view(), name="function-execution"),
]
