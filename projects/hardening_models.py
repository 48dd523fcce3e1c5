"""What stages 3 and 4 keep per project: test accounts, environments and their variable
fingerprints, the deploy webhook and its deploys, accepted secret findings and the repository
to scan. Imported by ``projects.models`` so Django sees them as ``projects`` models."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from launchready import crypto

ENVIRONMENT_NAMES = ("development", "staging", "production")


class TestAccount(models.Model):
    """A login of the client's app kept for the audit: the p95 probe measures personal
    endpoints logged in with it, the cross-account cache test needs two, the deploy smoke test
    signs in with the first. ``login``: ``form`` (POST ``username_field`` / ``password_field``
    to the project's login endpoint, keep the cookies it sets), ``cookie`` (send
    ``cookie_name=<secret>``) or ``bearer`` (``Authorization: Bearer <secret>``). The secret
    (password, cookie value or token) is encrypted at rest and never shown in full."""

    __test__ = False  # not a pytest test class, despite the name

    class Login(models.TextChoices):
        FORM = "form", "Login form"
        COOKIE = "cookie", "Session cookie"
        BEARER = "bearer", "Bearer token"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="test_accounts")
    label = models.CharField(max_length=100)
    login = models.CharField(max_length=10, choices=Login.choices, default=Login.FORM)
    username = models.CharField(max_length=254, blank=True)
    username_field = models.CharField(max_length=100, default="username")
    password_field = models.CharField(max_length=100, default="password")
    cookie_name = models.CharField(max_length=100, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "label"], name="one_test_account_label")]

    def __str__(self) -> str:
        return f"test account {self.label} of project {self.project_id}"

    def set_secret(self, plain: str) -> None:
        """Store ``plain`` encrypted ("" forgets it); saved with the account."""
        self.secret_encrypted = crypto.encrypt(plain) if plain else ""

    @property
    def secret(self) -> str:
        """The secret in clear. Raises ``crypto.SecretDecryptionError``. Memory only."""
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""


class Environment(models.Model):
    """One of a project's environments; CI posts its variables' names and fingerprints."""

    Name = models.TextChoices("Name", [(n, n.title()) for n in ENVIRONMENT_NAMES])

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=20, choices=Name.choices)
    url = models.URLField(max_length=2000, blank=True)
    variables_posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="one_environment_name")]

    def __str__(self) -> str:
        return f"{self.name} of project {self.project_id}"


class EnvironmentVariable(models.Model):
    """A variable of an environment as CI reports it: its name and the SHA-256 of its value
    (64 hex digits). Never the value."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="variables")
    name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["environment", "name"], name="one_variable_name")]

    def __str__(self) -> str:
        return f"{self.name} of environment {self.environment_id}"


class DeployHook(models.Model):
    """A project's deploy webhook. The caller names it by ``token`` (only its SHA-256 is kept,
    so a database leak does not hand out hooks) and signs each request with ``secret``
    (HMAC-SHA256; kept encrypted, because verifying needs it in clear). Both are shown once."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="deploy_hook")
    token_sha256 = models.CharField(max_length=64, unique=True)
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"deploy hook of project {self.project_id}"


class DeployEvent(models.Model):
    """A deploy (or rollback) the webhook recorded, and the smoke test run after it."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        ROLLBACK = "rollback", "Rollback"

    class Smoke(models.TextChoices):
        PENDING = "pending", "Pending"
        PASS = "pass", "Passed"
        FAIL = "fail", "Failed"
        ERROR = "error", "Could not run"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="deploys")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DEPLOY)
    environment = models.CharField(max_length=20)
    version = models.CharField(max_length=100, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    deployed_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    # SHA-256 of the signature header: a replayed request (same signature) is refused.
    signature_sha256 = models.CharField(max_length=64, unique=True)
    smoke_status = models.CharField(max_length=10, choices=Smoke.choices, default=Smoke.PENDING)
    smoke_steps = models.JSONField(default=list, blank=True)
    smoke_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-deployed_at", "-id"]
        indexes = [models.Index(fields=["project", "-deployed_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.version or self.commit[:12]} to {self.environment}"


class SecretAcceptance(models.Model):
    """A secret finding the agency accepted (a test key, a revoked one): the scans leave it
    out from then on. ``fingerprint`` is the finding's redacted identity (rule and value hash,
    ``checks.engine.secrets.finding.SecretFinding.fingerprint``), never the value."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="secret_acceptances"
    )
    fingerprint = models.CharField(max_length=200)
    rule = models.CharField(max_length=100)
    place = models.CharField(max_length=2000, blank=True)
    reason = models.TextField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "fingerprint"], name="one_acceptance_per_secret")
        ]

    def __str__(self) -> str:
        return f"accepted {self.rule} in project {self.project_id}"


class RepositoryArchive(models.Model):
    """An uploaded zip or tar.gz of the client's repository (size-capped, checked for path
    escapes on upload); the audit extracts it into a temporary folder and scans it."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="repository_archive"
    )
    filename = models.CharField(max_length=255)
    data = models.BinaryField()
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.filename} of project {self.project_id}"
