"""The SaaS shell's rows: per-agency API keys and the audit log of every change. Imported by
``projects.models`` so Django sees them as ``projects`` models."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A per-agency key for the REST API. Shown once when made; only its SHA-256 is kept
    (``key_sha256``), with ``prefix`` (its first characters) to tell keys apart on the page.
    ``scope``: ``read`` or ``write``. A revoked key (``revoked_at``) or one whose creator left
    the agency stops working at once."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    agency = models.ForeignKey("projects.Agency", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_sha256 = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="api_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"API key {self.prefix}… of {self.agency_id}"


class AuditLogEntry(models.Model):
    """One change made by a person or an API key: who (``actor`` or ``api_key``), what
    (``action``, e.g. ``project.update``; the object's type, id and a one-line ``summary``
    that never holds a secret), when, and from which address. Shown to the agency's owners."""

    agency = models.ForeignKey("projects.Agency", on_delete=models.CASCADE, related_name="audit_log")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=60, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["agency", "-at"])]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M:%S}"
