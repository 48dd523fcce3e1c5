from django.contrib import admin

from checks.models import AuditRun, CheckResult


@admin.register(AuditRun)
class AuditRunAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "state", "created_at", "finished_at"]
    list_filter = ["state"]


@admin.register(CheckResult)
class CheckResultAdmin(admin.ModelAdmin):
    list_display = ["check_id", "target", "status", "impact", "run"]
    list_filter = ["status", "check_id"]
