"""Generated handover PDFs, each kept with its date and the audit it came from."""

from django.conf import settings
from django.db import models


class HandoverDocument(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="handovers")
    run = models.ForeignKey(
        "checks.AuditRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept in the database: web, worker and CLI share it with no shared volume to manage.
    pdf = models.BinaryField()
    size_bytes = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"handover #{self.pk} of {self.project_id}"

    @property
    def filename(self) -> str:
        return f"handover-{self.project_id}-{self.created_at:%Y%m%d-%H%M}.pdf"
