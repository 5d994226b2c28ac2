"""Operators read the audit log and invitations of every project in /admin/."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet

from dashboard.models import AuditEntry, Invitation


class UnscopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def get_queryset(self, request: Any) -> QuerySet[Any]:
        return self.model.objects.unscoped()  # type: ignore[attr-defined,no-any-return]


@admin.register(AuditEntry)
class AuditEntryAdmin(UnscopedAdmin):
    list_display = ("created_at", "project", "actor_email", "action", "target")
    list_filter = ("action",)
    search_fields = ("project__id", "actor_email", "target")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(UnscopedAdmin):
    list_display = ("project", "email", "role", "created_at", "expires_at", "accepted_at", "revoked_at")
    readonly_fields = ("token_hash",)
