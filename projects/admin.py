from django.contrib import admin

from projects.models import Agency, EncryptedTOTPDevice, Endpoint, Finding, Membership, Project


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


@admin.register(EncryptedTOTPDevice)
class EncryptedTOTPDeviceAdmin(admin.ModelAdmin):
    """Two-factor devices. The reset for a lost phone (or a key no configured key decrypts any
    more) is deleting the user's device: they sign in with the password and set up again. No
    key is shown nor editable here (it is encrypted, ``editable=False``)."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username", "user__email"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # a device is set up by its user, who scans the QR code
