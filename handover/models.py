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


class HandoverRecord(models.Model):
    """What a founder needs to run the product, recorded per project (one row): deploy steps,
    monitoring links, and the sign-off by the consultant and the founder. The other parts are
    rows of their own (secret locations, access map, owners, runbook); rollback instructions
    are ``Project.rollback_notes``; domains and mail evidence come from the audit."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="handover_record"
    )
    deploy_steps = models.TextField(blank=True)
    monitoring_links = models.TextField(blank=True, help_text="One per line: label and URL")
    consultant_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consultant_signed_at = models.DateTimeField(null=True, blank=True)
    founder_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    founder_signed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"handover record of {self.project_id}"


class SecretLocation(models.Model):
    """Where a secret lives — never its value: the store (``1Password``, ``Vercel env``), the
    path in it, and who can reach it."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="secret_locations")
    name = models.CharField(max_length=200, help_text="What it is, e.g. Stripe live secret key")
    store = models.CharField(max_length=200)
    path = models.CharField(max_length=500, blank=True)
    who_can_access = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} in {self.store}"


class AccessEntry(models.Model):
    """One line of the access map: a system, its URL, its owner, who can log in, MFA."""

    class Mfa(models.TextChoices):
        ON = "on", "On"
        OFF = "off", "Off"
        UNKNOWN = "unknown", "Unknown"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="access_entries")
    system = models.CharField(max_length=200)
    url = models.URLField(max_length=500, blank=True)
    owner = models.CharField(max_length=200, blank=True)
    people_with_access = models.TextField(blank=True)
    mfa = models.CharField(max_length=10, choices=Mfa.choices, default=Mfa.UNKNOWN)

    class Meta:
        ordering = ["system", "id"]

    def __str__(self) -> str:
        return self.system


class AreaOwner(models.Model):
    """Who owns an area after launch (``Payments``, ``Infrastructure``, ``Email``)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="area_owners")
    area = models.CharField(max_length=200)
    owner = models.CharField(max_length=200)
    contact = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["area", "id"]

    def __str__(self) -> str:
        return f"{self.area}: {self.owner}"


class RunbookEntry(models.Model):
    """"What to do if X breaks": a situation and the steps. ``key`` names the defaults offered
    (``site_down``, ``login_broken``, ``mail_in_spam``, ``certificate_expiring``,
    ``bad_deploy``); "" for one the agency added."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="runbook_entries")
    key = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=200)
    steps = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title
