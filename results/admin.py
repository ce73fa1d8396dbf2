from django.contrib import admin

from results.models import KpiComputation


@admin.register(KpiComputation)
class KpiComputationAdmin(admin.ModelAdmin):
    """Which days have results and when they were computed (read only: the task writes)."""

    list_display = ("day", "computed_at", "seconds", "rows", "attribution_days", "computed_by")
    ordering = ("-day",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
