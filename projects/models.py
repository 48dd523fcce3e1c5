"""Tenancy and the work: agencies (tenants), memberships, projects and their targets,
findings and their fix lifecycle. Reach tenant rows only through ``projects.access``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.views.decorators.debug import sensitive_variables

from checks.engine.spec import (
    DEFAULT_SUBDOMAINS,
    DEFAULT_TARGET_P95_MS,
    ENDPOINT_KINDS,
    ENDPOINT_METHODS,
    EndpointSpec,
    ProjectSpec,
    SmtpSettings,
)
from launchready import crypto

UNREADABLE_PASSWORD = ("the stored SMTP password cannot be decrypted with FIELD_ENCRYPTION_KEYS: "
                       "enter it again on the project form")


class Agency(models.Model):
    """The tenant. Every tenant row belongs to one agency, directly or through a project."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    # The owner can make two-factor sign-in (TOTP) mandatory for the agency's staff.
    require_two_factor = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        CONSULTANT = "consultant", "Consultant"
        CLIENT = "client", "Client (founder)"

    STAFF_ROLES = (Role.OWNER, Role.CONSULTANT)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "agency"], name="one_membership_per_agency")]

    def __str__(self) -> str:
        return f"{self.user} · {self.agency} · {self.role}"


def default_subdomains() -> list[str]:
    return list(DEFAULT_SUBDOMAINS)


class Project(models.Model):
    """A client's app on its way to launch: the hosts and endpoints an audit looks at."""

    class SmtpSecurity(models.TextChoices):
        STARTTLS = "starttls", "STARTTLS"
        TLS = "tls", "Implicit TLS"
        NONE = "none", "None (plain text)"

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    client_name = models.CharField(max_length=200, blank=True)
    apex_domain = models.CharField(max_length=253, help_text="The registrable domain, e.g. example.com")
    preferred_host = models.CharField(
        max_length=253, blank=True,
        help_text="The canonical host the other of apex / www redirects to; blank = the apex",
    )
    subdomains = models.JSONField(default=default_subdomains, blank=True)
    rollback_notes = models.TextField(blank=True)
    # When a rollback was last really carried out (a drill or a real one); none: never tried.
    rollback_last_tried_at = models.DateTimeField(null=True, blank=True)
    # The client's git repository for the secret scan (https://…, reachable by the panel);
    # an uploaded archive is ``repository_archive``.
    repository_url = models.URLField(max_length=2000, blank=True)
    # Mail: the DKIM selectors the client signs with, who sends its mail (a preset key of
    # checks/engine/data/mail_providers.json, "" for none) and any other sending IPs.
    dkim_selectors = models.JSONField(default=list, blank=True)
    mail_provider = models.CharField(max_length=40, blank=True)
    mail_sending_ips = models.JSONField(default=list, blank=True)
    # How the app sends its transactional mail (email.transactional sends test mails through
    # it). Off while smtp_host is blank. The password is stored only as a Fernet token
    # (launchready/crypto.py); not editable, so no ModelForm or admin page ever shows it.
    smtp_host = models.CharField("SMTP host", max_length=253, blank=True)
    smtp_port = models.PositiveIntegerField(
        "SMTP port", null=True, blank=True, help_text="Blank: the usual port of the security mode",
    )
    smtp_security = models.CharField(
        "SMTP security", max_length=10, choices=SmtpSecurity.choices, default=SmtpSecurity.STARTTLS,
    )
    smtp_username = models.CharField("SMTP user name", max_length=254, blank=True)
    smtp_password_encrypted = models.TextField(blank=True, editable=False)
    mail_from = models.CharField(
        "From address", max_length=254, blank=True, help_text="The sender the app's mail carries",
    )
    founders = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="granted_projects",
        help_text="Client users who may see this project (read-only)",
    )
    # A scenario file: audits then run against its sandbox. The form offers only the files in
    # SCENARIOS_DIR (by name); the CLI may store an absolute path. Never a path typed by a user.
    sandbox_scenario = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @sensitive_variables("plain")
    def set_smtp_password(self, plain: str) -> None:
        """Store ``plain`` encrypted ("" forgets the stored password); saved with the project."""
        self.smtp_password_encrypted = crypto.encrypt(plain) if plain else ""

    @property
    def smtp_password(self) -> str:
        """The SMTP password in clear ("" when none). Raises ``crypto.SecretDecryptionError``
        when no configured key opens the stored token. Keep it in memory only."""
        return crypto.decrypt(self.smtp_password_encrypted) if self.smtp_password_encrypted else ""

    @property
    def has_smtp_password(self) -> bool:
        return bool(self.smtp_password_encrypted)

    @sensitive_variables("password")
    def smtp_settings(self, *, secrets: bool = False) -> SmtpSettings | None:
        """The project's SMTP sending, ``None`` while ``smtp_host`` is blank. The password is
        decrypted only with ``secrets`` (the audit that sends); otherwise it is "".

        Raises ``InvalidMailSetting`` for stored settings that are not valid. A password no
        configured key decrypts (``secrets``) is not raised: it becomes the settings'
        ``problem``, so only the mail test reports it and the rest of the audit runs.
        """
        if not self.smtp_host:
            return None
        password, problem = "", ""
        if secrets:
            try:
                password = self.smtp_password
            except crypto.SecretDecryptionError:
                problem = UNREADABLE_PASSWORD
        return SmtpSettings(
            host=self.smtp_host, from_address=self.mail_from, port=self.smtp_port or 0,
            security=self.smtp_security, username=self.smtp_username, password=password, problem=problem,
        )

    def spec(self, *, secrets: bool = False, facts: bool = True) -> ProjectSpec:
        """The engine's view of this project (raises ``InvalidHostname`` for a bad apex,
        ``InvalidMailSetting`` for bad mail settings). ``secrets``: decrypt the SMTP password
        into ``spec.smtp`` — only the audit stage that runs the checks asks for it, so pages
        that only need the hosts never hold it. ``spec.handover``: the handover record's facts
        (stage 7), always given — an empty record fails each part. ``spec.monitoring``: its
        monitors, alert channels and log scan (stage 5), always given (three queries).
        ``spec.hardening`` (stage 3: environments, deploys, rollback, accepted secrets, the
        repository) and ``spec.accounts`` (test accounts, secrets decrypted only with
        ``secrets``), six queries. With ``facts=False`` these are empty and not queried:
        pages that need only the hosts and their reach (the risk list's order, the edge
        matrix) skip fourteen queries."""
        from checks.monitoring_facts import monitoring_facts  # checks' models refer back to Project
        from handover.facts import handover_facts  # handover's models refer back to Project
        from projects.hardening_facts import hardening_facts, test_accounts

        return ProjectSpec(
            name=self.name,
            apex=self.apex_domain,
            subdomains=tuple(self.subdomains or ()),
            preferred_host=self.preferred_host,
            dkim_selectors=tuple(self.dkim_selectors or ()),
            mail_provider=self.mail_provider,
            mail_sending_ips=tuple(self.mail_sending_ips or ()),
            smtp=self.smtp_settings(secrets=secrets),
            endpoints=tuple(
                EndpointSpec(kind=e.kind, url=e.url, method=e.method, target_p95_ms=e.target_p95_ms,
                             personal=e.personal)
                for e in self.endpoints.all()
            ),
            handover=handover_facts(self) if facts else None,
            monitoring=monitoring_facts(self) if facts else None,
            hardening=hardening_facts(self) if facts else None,
            accounts=test_accounts(self, secrets=secrets) if facts else (),
        )

    def repository_archive_meta(self) -> dict | None:
        """``{pk, filename, size_bytes}`` of the uploaded repository archive, without its bytes."""
        return (RepositoryArchive.objects.filter(project=self)
                .values("pk", "filename", "size_bytes").first())


class Endpoint(models.Model):
    """A critical endpoint of the app (login, feed, webhook …)."""

    Kind = models.TextChoices("Kind", [(k, k.replace("_", " ").title()) for k in ENDPOINT_KINDS])
    METHODS = [(m, m) for m in ENDPOINT_METHODS]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="endpoints")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    url = models.URLField(max_length=2000)
    method = models.CharField(max_length=7, choices=METHODS, default="GET")
    # Stage 4: the p95 this endpoint must stay under, in milliseconds (launch baseline 300).
    target_p95_ms = models.PositiveIntegerField(default=DEFAULT_TARGET_P95_MS)
    # Whether its answer depends on who is logged in; None: by kind (feed, membership, profile).
    personal = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.method} {self.url}"


class Finding(models.Model):
    """A risk with a stable identity (project, check id, target) across audit runs.

    Lifecycle: open → in progress → fixed (claimed by a person) → verified (a later run
    passed); a verified finding that fails again is regressed; accepted = a risk the agency
    chose to live with, with a reason, until ``accepted_until`` (then the next failing run
    opens it again). Every change is kept as a ``FindingEvent``.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        FIXED = "fixed", "Fixed (claimed)"
        VERIFIED = "verified", "Verified"
        REGRESSED = "regressed", "Regressed"
        ACCEPTED = "accepted", "Accepted risk"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="findings")
    check_id = models.CharField(max_length=100)
    target = models.CharField(max_length=2000)
    stage = models.CharField(max_length=20)
    impact = models.CharField(max_length=10)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    last_result_status = models.CharField(max_length=10)
    # Who fixes it (an agency staff member) and by when.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_findings",
    )
    due_date = models.DateField(null=True, blank=True)
    # An accepted risk: why, and until when it stays quiet.
    accepted_reason = models.TextField(blank=True)
    accepted_until = models.DateField(null=True, blank=True)
    summary = models.TextField()
    remediation = models.TextField(blank=True)
    first_run = models.ForeignKey("checks.AuditRun", null=True, on_delete=models.SET_NULL, related_name="+")
    last_run = models.ForeignKey("checks.AuditRun", null=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "check_id", "target"], name="one_finding_per_check_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.check_id} {self.target}: {self.status}"


class FindingEvent(models.Model):
    """One change in a finding's history: who (``actor``; ``None`` = an audit run) did what,
    when. ``kind`` says what changed; ``from_status``/``to_status`` for status changes;
    ``text`` a comment or reason; ``internal`` comments stay inside the agency (founders never
    see them)."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened by an audit"
        STATUS = "status", "Status changed"
        OWNER = "owner", "Owner changed"
        DUE = "due", "Due date changed"
        ACCEPTED = "accepted", "Risk accepted"
        COMMENT = "comment", "Comment"

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        "checks.AuditRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    text = models.TextField(blank=True)
    internal = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.finding_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Invite(models.Model):
    """An invitation to join an agency by email: a founder (``role`` client, granted
    ``projects``) or a consultant. The link carries a random token; only its SHA-256 is
    stored. Single use (``accepted_at``), expires at ``expires_at``."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Membership.Role.choices, default=Membership.Role.CLIENT)
    projects = models.ManyToManyField(Project, blank=True, related_name="invites")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invite {self.email} to {self.agency} ({self.role})"


from projects.hardening_models import (  # noqa: E402,F401  (Django finds models here)
    DeployEvent,
    DeployHook,
    Environment,
    EnvironmentVariable,
    RepositoryArchive,
    SecretAcceptance,
    TestAccount,
)
from projects.recovery_models import RecoveryCode, RecoveryCodeDevice  # noqa: E402,F401  (Django finds models here)
from projects.shell_models import ApiKey, AuditLogEntry  # noqa: E402,F401  (Django finds models here)
from projects.totp_models import EncryptedTOTPDevice  # noqa: E402,F401  (Django finds models here)
