"""Audit runs and their results."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from checks.engine.result import Impact, Stage, Status

STATUS_CHOICES = [(s.value, s.value) for s in Status]
IMPACT_CHOICES = [(i.value, i.value) for i in Impact]
STAGE_CHOICES = [(s.value, s.title) for s in Stage]


class AuditRun(models.Model):
    """One audit of a project: queued → running → done (or error)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        ERROR = "error", "Error"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    quick = models.BooleanField(default=False, help_text="Only the stage-1 quick subset")
    # Only these checks (ids like "email.transactional"); empty = every check. "Send test
    # mails" starts a run of email.transactional alone.
    check_ids = models.JSONField(default=list, blank=True)
    planned_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"audit #{self.pk} of {self.project_id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.ERROR)

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class StageRun(models.Model):
    """One stage of a run; the last stage to finish triggers the run's finalize step."""

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="stages")
    stage = models.CharField(max_length=20, choices=STAGE_CHOICES)
    planned_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "stage"], name="one_stage_row_per_run")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.stage} of run {self.run_id}"


class CheckResult(models.Model):
    """What one check found for one target in one run; written as the check ends."""

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="results")
    check_id = models.CharField(max_length=100)
    stage = models.CharField(max_length=20, choices=STAGE_CHOICES)
    impact = models.CharField(max_length=10, choices=IMPACT_CHOICES)
    target = models.CharField(max_length=2000)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES)
    summary = models.TextField()
    evidence = models.JSONField(default=dict)
    remediation = models.TextField(blank=True)
    metrics = models.JSONField(default=dict)
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "check_id", "target"], name="one_result_per_unit")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.check_id} {self.target}: {self.status}"

    def as_dict(self) -> dict:
        """The shape of ``manage.py audit --json`` results."""
        return {
            "check": self.check_id,
            "stage": self.stage,
            "target": self.target,
            "status": self.status,
            "impact": self.impact,
            "summary": self.summary,
            "evidence": self.evidence,
            "remediation": self.remediation,
            "metrics": self.metrics,
            "duration_ms": round(self.duration_ms, 1),
        }
