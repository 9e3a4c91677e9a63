"""A minimal patient list and chart; the dashboards come in later issues."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from audit.services import chart_view_log
from patients import selectors
from patients.models import Patient


@permission_required("patients.view_patient", raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "patients/patient_list.html", {"patients": selectors.patient_list()})


@permission_required("patients.view_patient", raise_exception=True)
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    try:
        patient = selectors.patient_chart(patient_id=patient_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    chart_view_log(user=request.user, patient=patient, ip_address=request.META.get("REMOTE_ADDR"))
    return render(request, "patients/patient_detail.html", {"patient": patient})
