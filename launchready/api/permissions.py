"""Who may use which route: agency staff only (a founder gets 404 on every route, as if the
API did not exist for them), and a read-only key only the safe methods (403 on a write)."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from launchready.api.authentication import key_of
from projects import access
from projects.models import ApiKey


class AgencyStaff(permissions.BasePermission):
    """Authenticated (else 401), staff of an agency (else 404), and for a write made with a
    key, a read-write key (else 403). A key's creator was checked to be staff of its agency
    when the key was looked up, so key requests cost no query here."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False  # DRF answers 401 with the Bearer challenge
        key = key_of(request)
        if key is None and not access.staff_agencies(request.user).exists():
            raise exceptions.NotFound()
        writes = request.method not in permissions.SAFE_METHODS
        if writes and key is not None and key.scope != ApiKey.Scope.WRITE:
            raise exceptions.PermissionDenied("This API key is read-only.")
        return True
