"""Findings out, and the changes a person may ask for in (status, owner, due date). Whether a
change is allowed is decided by ``projects.finding_services``, never here."""

from __future__ import annotations

from rest_framework import serializers

from checks.engine.result import Impact, Stage
from projects.models import Finding


class FindingSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    check = serializers.CharField(source="check_id")

    class Meta:
        model = Finding
        fields = ["id", "check", "target", "stage", "impact", "status", "last_result_status", "owner",
                  "due_date", "accepted_reason", "accepted_until", "summary", "remediation", "opened_at",
                  "updated_at"]


class FindingChangeSerializer(serializers.Serializer):
    """What to change; fields left out stay as they are. ``status: accepted`` needs
    ``accepted_reason`` and ``accepted_until``; ``owner`` is a staff member's user name (null:
    nobody)."""

    status = serializers.ChoiceField(choices=Finding.Status.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000,
                                 help_text="Why, kept in the finding's history")
    accepted_reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    accepted_until = serializers.DateField(required=False)
    owner = serializers.CharField(required=False, allow_null=True, max_length=150)
    due_date = serializers.DateField(required=False, allow_null=True)


class FindingFilterSerializer(serializers.Serializer):
    """The finding list's query parameters; each narrows the list (blank: no filter). A value
    that cannot match (an unknown status, a NUL byte) is a 400, not an empty list."""

    status = serializers.ChoiceField(choices=Finding.Status.choices, required=False)
    impact = serializers.ChoiceField(choices=[i.value for i in Impact], required=False)
    stage = serializers.ChoiceField(choices=[s.value for s in Stage], required=False)
    check = serializers.CharField(max_length=100, required=False, help_text="A check id: tls.certificate")
    owner = serializers.CharField(max_length=150, required=False, help_text="The owner's user name")
