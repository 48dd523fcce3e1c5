"""Audit runs and their results."""

from __future__ import annotations

from django.conf import settings
from django.db import models, router, transaction
from django.db.models import Max

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
    # What people see: "Audit #3" is the project's third run, where the pk jumps with every
    # agency's runs. Given on insert (``save``). URLs and API ids keep the pk, as every object's
    # do: global sequential ids there still show other agencies' volume (an open decision).
    number = models.PositiveIntegerField(editable=False)
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
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="one_run_number_per_project"),
        ]

    def __str__(self) -> str:
        return f"audit #{self.number} of {self.project_id} ({self.state})"

    def save(self, *args, **kwargs) -> None:
        """On insert, number the run after the project's last one (1 for its first run)."""
        if not (self._state.adding and self.number is None):
            super().save(*args, **kwargs)
            return
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            self.number = _next_number(self.project_id, using)
            super().save(*args, **kwargs)

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.ERROR)

    @property
    def targeted(self) -> bool:
        """True for a run of a few checks only (such as "Send test mails"), not a full audit."""
        return bool(self.check_ids)

    @property
    def label(self) -> str:
        """``Audit #7``, ``Quick audit #8`` or ``Mail test #9`` — what the pages call the run."""
        if self.check_ids == ["email.transactional"]:
            return f"Mail test #{self.number}"
        if self.check_ids:
            return f"Run #{self.number} ({', '.join(self.check_ids)})"
        return f"{'Quick audit' if self.quick else 'Audit'} #{self.number}"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


def _next_number(project_id: int, using: str) -> int:
    """The number the project's next run takes: its highest so far plus one. Call inside the
    transaction that inserts the run.

    The project's row is locked first (``FOR NO KEY UPDATE`` on PostgreSQL), so two runs of
    one project started at once are numbered one after the other: the second waits for the
    first to commit, and its ``MAX`` — a fresh snapshot under READ COMMITTED — sees it. Runs
    of other projects do not wait. ``MAX + 1`` in a single ``INSERT … SELECT`` would read the
    same ``MAX`` in both and leave one to fail on the unique constraint; here the constraint is
    only the backstop (for SQLite, where the lock is a no-op and writes are serialised anyway).
    """
    project_model = AuditRun._meta.get_field("project").related_model
    list(project_model.objects.using(using).select_for_update(no_key=True).filter(pk=project_id).values("pk"))
    last = AuditRun.objects.using(using).filter(project_id=project_id).aggregate(n=Max("number"))["n"]
    return (last or 0) + 1


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


# --- Monitoring (stage 5): monitors, their probes and hourly roll-ups, incidents, alerts. ---


class Monitor(models.Model):
    """An uptime check on one URL of a project, probed every ``interval_s`` seconds.

    Scheduling: the beat tick claims monitors whose ``next_due_at`` has come by moving it one
    interval ahead in the same conditional UPDATE, so two beats (or a retried task) never
    probe one twice. ``state`` is what the probes say: ``up``, ``down`` after ``down_after``
    consecutive failures, ``unknown`` before the first probe.
    """

    class State(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        UP = "up", "Up"
        DOWN = "down", "Down"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="monitors")
    endpoint = models.ForeignKey(
        "projects.Endpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="monitors"
    )
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000)
    method = models.CharField(max_length=7, default="GET")
    interval_s = models.PositiveIntegerField(default=60)  # 30 s to 1 h
    timeout_s = models.FloatField(default=10.0)
    expected_status = models.PositiveSmallIntegerField(default=200)
    keyword = models.CharField(max_length=200, blank=True)
    down_after = models.PositiveSmallIntegerField(default=2)  # consecutive failures
    enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.UNKNOWN)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["enabled", "next_due_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


class Probe(models.Model):
    """One probe of a monitor: ``ok``, the HTTP status, latency in ms, and why it failed.
    Kept 7 days; older ones live on as ``ProbeRollup`` hours."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="probes")
    at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)  # when it fell due: lag = at - due_at
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["monitor", "at"])]

    def __str__(self) -> str:
        return f"probe of {self.monitor_id} at {self.at:%Y-%m-%d %H:%M:%S}: {'ok' if self.ok else 'fail'}"


class ProbeRollup(models.Model):
    """One hour of a monitor's probes: counts and latency figures (ms)."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="rollups")
    hour = models.DateTimeField()
    probes = models.PositiveIntegerField()
    ok_probes = models.PositiveIntegerField()
    latency_p50_ms = models.FloatField(null=True, blank=True)
    latency_p95_ms = models.FloatField(null=True, blank=True)
    latency_max_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-hour"]
        constraints = [models.UniqueConstraint(fields=["monitor", "hour"], name="one_rollup_per_hour")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.hour:%Y-%m-%d %H}:00 {self.ok_probes}/{self.probes}"


class Incident(models.Model):
    """A monitor down: opened after ``down_after`` consecutive failures, closed by the next
    success. Its state changes are kept as ``IncidentEvent``s."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="incidents")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="incidents")
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # At most one open incident per monitor: a second beat cannot open another.
            models.UniqueConstraint(
                fields=["monitor"], condition=models.Q(closed_at__isnull=True),
                name="one_open_incident_per_monitor",
            )
        ]

    def __str__(self) -> str:
        return f"incident {self.pk} of {self.monitor_id}"


class IncidentEvent(models.Model):
    """A state change of an incident, with time and reason (``opened``, ``closed``,
    ``flapping``)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=20)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of incident {self.incident_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class AlertChannel(models.Model):
    """Where a project's alerts go: an email address, a Slack incoming webhook or a Discord
    webhook. Webhook URLs are secrets (whoever has one can post): kept encrypted
    (``launchready.crypto``), never shown in full."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        DISCORD = "discord", "Discord"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    webhook_url_encrypted = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    last_test_ok_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        return f"{self.kind} channel {self.pk} of {self.project_id}"


class AlertDelivery(models.Model):
    """One alert to one channel: for an incident's opening (``down``) or closing (``up``), or a
    ``test``. At most one per channel, incident and kind (the constraint), so a retried task
    or a second beat cannot alert twice. Retried with back-off until ``sent`` or ``failed``."""

    class Kind(models.TextChoices):
        DOWN = "down", "Down"
        UP = "up", "Up"
        TEST = "test", "Test"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "incident", "kind"], condition=models.Q(incident__isnull=False),
                name="one_alert_per_channel_incident_kind",
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} alert {self.pk} to channel {self.channel_id}: {self.state}"


class LogSample(models.Model):
    """The scan of a log sample a consultant pasted or uploaded (stage 5, log hygiene). Only
    the redacted result is kept — ``scan`` is ``checks.engine.loghygiene.LogScan.as_dict()``:
    counts by kind and findings as a short prefix and a keyed hash — never the sample itself,
    which may hold the very tokens it is scanned for. One per project; a new sample replaces it."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="log_sample")
    source = models.CharField(max_length=255, blank=True)  # "pasted", or the uploaded file's name
    size_bytes = models.PositiveIntegerField()
    lines = models.PositiveIntegerField()
    phone_region = models.CharField(max_length=2)  # ISO 3166-1: how national numbers were read
    scan = models.JSONField(default=dict)
    scanned_at = models.DateTimeField()
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"log sample of {self.project_id}: {self.lines} lines"
