"""Read-only records: audit runs with their progress and results, deploy events."""

from __future__ import annotations

from rest_framework import serializers

from checks.models import AuditRun, CheckResult
from projects.models import DeployEvent


class CheckResultSerializer(serializers.ModelSerializer):
    """One check on one target: its verdict, evidence, metrics and remediation."""

    check = serializers.CharField(source="check_id")

    class Meta:
        model = CheckResult
        fields = ["check", "stage", "target", "status", "impact", "summary", "evidence", "remediation",
                  "metrics", "duration_ms"]


class StageProgressSerializer(serializers.Serializer):
    stage = serializers.CharField()
    title = serializers.CharField()
    done = serializers.IntegerField()
    planned = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    """``checks.services.run_progress``: results recorded of those planned, by stage."""

    state = serializers.CharField()
    done = serializers.IntegerField()
    planned = serializers.IntegerField()
    percent = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    stages = StageProgressSerializer(many=True)


class AuditRunSerializer(serializers.ModelSerializer):
    """An audit run without its results (lists). ``id`` is the run's id in URLs; ``number``
    counts the project's runs (1, 2, 3 …): what the pages call "Audit #n"."""

    project = serializers.IntegerField(source="project_id")
    label = serializers.CharField()

    class Meta:
        model = AuditRun
        fields = ["id", "number", "project", "label", "state", "quick", "check_ids", "planned_count", "error",
                  "created_at", "started_at", "finished_at"]


class AuditRunDetailSerializer(AuditRunSerializer):
    """An audit run with its progress and every result recorded so far."""

    progress = ProgressSerializer(source="progress_data")
    results = CheckResultSerializer(many=True, source="results_list")

    class Meta(AuditRunSerializer.Meta):
        fields = [*AuditRunSerializer.Meta.fields, "progress", "results"]


class AuditStartSerializer(serializers.Serializer):
    quick = serializers.BooleanField(default=False, help_text="Only the stage-1 quick subset")


class AuditStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The run's id: poll GET /api/v1/audits/{id}/")
    number = serializers.IntegerField(help_text="The run's number within its project (1, 2, 3 …), "
                                                "as the pages show it: \"Audit #3\"")
    state = serializers.CharField()
    planned_count = serializers.IntegerField()


class DeployEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeployEvent
        fields = ["id", "kind", "environment", "version", "commit", "actor", "deployed_at", "received_at",
                  "smoke_status", "smoke_steps", "smoke_at"]
