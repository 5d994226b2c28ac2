"""Operators see every project in /admin/: the one place the unscoped escape is right."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet

from projects.models import ApiKey, Membership, PersonalAccessToken, Project


class UnscopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def get_queryset(self, request: Any) -> QuerySet[Any]:
        return self.model.objects.unscoped()  # type: ignore[attr-defined,no-any-return]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "name", "created_at")
    search_fields = ("id", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(UnscopedAdmin):
    list_display = ("display_prefix", "project", "kind", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("kind",)
    readonly_fields = ("key_hash",)


@admin.register(Membership)
class MembershipAdmin(UnscopedAdmin):
    list_display = ("project", "user", "role")


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("display_prefix", "user", "name", "created_at", "revoked_at")
    readonly_fields = ("token_hash",)
