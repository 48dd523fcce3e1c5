from django.contrib import admin

from projects.models import Agency, Endpoint, Finding, Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


class EndpointInline(admin.TabularInline):
    model = Endpoint
    extra = 0


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "agency", "apex_domain", "created_at"]
    list_filter = ["agency"]
    inlines = [EndpointInline]
    filter_horizontal = ["founders"]


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ["check_id", "target", "project", "status", "impact"]
    list_filter = ["status", "impact"]
