"""The access log in the admin: who looked at this patient (search by record number or name), what
did this user look at (filter or search by user), exportable as CSV. Read-only for everyone. Anyone
but a superuser sees only the events of the clinics they may see (accounts.clinics.clinics_of): those
about their patients or by their staff, naming only their patients."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.clinics import clinics_of
from audit.models import AccessEvent
from patients.models import Patient


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "kind", "page", "path", "patient_list", "ip_address", "status_code"]
    list_filter = ["kind", "at", "user"]
    search_fields = ["username", "path", "patients__mrn", "patients__family_name"]
    date_hierarchy = "at"
    actions = ["export_csv"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessEvent]:
        events = super().get_queryset(request)
        if request.user.is_superuser:
            return events.prefetch_related("patients")
        clinics = clinics_of(request.user)
        mine = Q(pk__in=events.filter(Q(patients__clinic__in=clinics) | Q(user__clinics__in=clinics)).values("pk"))
        return events.filter(mine).prefetch_related(
            Prefetch("patients", queryset=Patient.objects.filter(clinic__in=clinics))
        )

    @admin.display(description="Patients")
    def patient_list(self, event: AccessEvent) -> str:
        return ", ".join(p.mrn for p in event.patients.all())

    @admin.action(description="Export the selected events as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AccessEvent]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="access-log-{timezone.localdate():%Y%m%d}.csv"'
        writer = csv.writer(response)
        writer.writerow(["at", "user", "kind", "page", "path", "patients", "ip_address", "status", "detail"])
        for event in queryset.order_by("at", "pk"):  # get_queryset's patients, prefetched
            writer.writerow(
                [
                    event.at.isoformat(),
                    event.username,
                    event.kind,
                    event.page,
                    event.path,
                    " ".join(p.mrn for p in event.patients.all()),
                    event.ip_address or "",
                    event.status_code or "",
                    event.detail,
                ]
            )
        return response

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccessEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AccessEvent | None = None) -> bool:
        return False
