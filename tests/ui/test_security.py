"""Security controls (README "Security"): the second factor, lockout, passwords, sessions, least
privilege in the admin, the access log and the response headers."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AccessedPatient, AccessEvent, AppendOnlyError
from patients.models import Patient
from tests.ui.builders import Clinic

pytestmark = pytest.mark.django_db


def log_in(client: Client, username: str, password: str = "pw") -> Any:
    return client.post(reverse("login"), {"username": username, "password": password})


def code(device: TOTPDevice, *, later: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=later):06d}"


# The second factor --------------------------------------------------------------------------------


@pytest.fixture
def mfa_required(settings) -> None:
    settings.MFA_REQUIRED = True


def test_a_password_alone_reaches_no_patient_data_when_a_second_factor_is_required(
    client: Client, mfa_required, nurse, patient: Patient
) -> None:
    assert log_in(client, "nina").status_code == 302
    for url in (reverse("worklist"), reverse("patient_detail", args=[patient.pk]), "/admin/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_setup")), url
    assert not AccessEvent.objects.filter(kind="read").exists()


def test_a_user_enrols_an_app_then_logs_in_with_a_code_or_a_recovery_code_once(
    client: Client, mfa_required, nurse, settings
) -> None:
    # django-otp slows retries after a wrong code; not the subject here.
    settings.OTP_TOTP_THROTTLE_FACTOR = settings.OTP_STATIC_THROTTLE_FACTOR = 0
    log_in(client, "nina")
    page = client.get(reverse("mfa_setup"))
    assert page.status_code == 200 and page.context["qr"].startswith("data:image/svg+xml")
    device = TOTPDevice.objects.get(user=nurse, confirmed=False)
    wrong = client.post(reverse("mfa_setup"), {"token": "000000" if code(device) != "000000" else "111111"})
    assert wrong.context["form"].errors["token"]
    done = client.post(reverse("mfa_setup"), {"token": code(device), "next": "/worklist/"})
    codes = done.context["codes"]
    assert len(codes) == 10 and client.get(reverse("worklist")).status_code == 200

    client.post(reverse("logout"))
    log_in(client, "nina")
    assert client.get(reverse("worklist"))["Location"].startswith(reverse("mfa_verify"))
    assert client.post(reverse("mfa_verify"), {"token": "12345678"}).context["form"].errors["token"]
    assert client.post(reverse("mfa_verify"), {"token": codes[0], "next": "/worklist/"}).status_code == 302
    assert client.get(reverse("worklist")).status_code == 200

    client.post(reverse("logout"))
    log_in(client, "nina")
    assert client.post(reverse("mfa_verify"), {"token": codes[0]}).status_code == 200  # used up
    assert client.post(reverse("mfa_verify"), {"token": code(device, later=1)}).status_code == 302


def test_an_admin_resets_a_lost_second_factor_and_the_log_says_so(client: Client, superuser, nurse) -> None:
    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)
    client.force_login(superuser)
    url = reverse("admin:auth_user_changelist")
    client.post(url, {"action": "reset_second_factor", "_selected_action": [nurse.pk]})
    assert not TOTPDevice.objects.filter(user=nurse).exists()
    reset = AccessEvent.objects.get(kind="mfa_reset")
    assert (reset.user, reset.detail) == (superuser, "for nina")


# Lockout and passwords ----------------------------------------------------------------------------


def test_the_fifth_wrong_password_locks_even_the_right_one_out(client: Client, nurse) -> None:
    for _ in range(4):
        assert log_in(client, "nina", "wrong-password").status_code == 200
    locked = log_in(client, "nina", "wrong-password")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    assert log_in(client, "nina").status_code == 429  # the right password, still locked
    assert client.get(reverse("worklist")).status_code == 302  # not logged in
    assert AccessEvent.objects.filter(kind="login_failed", username="nina").count() >= 5
    assert AccessEvent.objects.filter(kind="locked_out", username="nina").exists()
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert log_in(other, "nina").status_code == 302  # another workstation is not locked


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("b12clinic", False),
        ("clinic123", False),
        ("B12Clinic2026!!", False),  # long enough, but the clinic's own words
        ("password1234", False),
        ("123456789012", False),
        ("short-Pass1", False),  # 11 characters
        ("tundra-violet-kettle", True),
    ],
)
def test_it_refuses_weak_passwords(nurse, password: str, ok: bool) -> None:
    if ok:
        validate_password(password, nurse)
    else:
        with pytest.raises(ValidationError):
            validate_password(password, nurse)


def test_an_account_an_admin_made_must_choose_its_own_password_first(client: Client, superuser) -> None:
    client.force_login(superuser)
    response = client.post(
        reverse("admin:auth_user_add"),
        {"username": "newnurse", "password1": "tundra-violet-kettle", "password2": "tundra-violet-kettle"},
    )
    assert response.status_code == 302
    client.post(reverse("logout"))
    log_in(client, "newnurse", "tundra-violet-kettle")
    assert client.get(reverse("patient_list"))["Location"].startswith(reverse("password_change"))
    changed = client.post(
        reverse("password_change"),
        {
            "old_password": "tundra-violet-kettle",
            "new_password1": "amber-falcon-orchard",
            "new_password2": "amber-falcon-orchard",
        },
    )
    assert changed.status_code == 302
    assert client.get(reverse("patient_list")).status_code == 403  # in, but with no role yet


# Sessions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "still_in"), [(14, True), (16, False)])
def test_an_idle_session_ends(client: Client, nurse, minutes: int, still_in: bool) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        log_in(client, "nina")
        assert client.get(reverse("worklist")).status_code == 200
        clock.move_to(start + datetime.timedelta(minutes=minutes))
        response = client.get(reverse("worklist"))
    assert (response.status_code == 200) is still_in
    if not still_in:
        assert response["Location"].startswith(reverse("login"))


def test_sessions_end_with_the_browser_and_after_eight_hours(settings) -> None:
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_COOKIE_NAME == "__Host-sessionid" and settings.SESSION_COOKIE_SECURE


# Least privilege in the admin ---------------------------------------------------------------------


def test_a_clinic_admin_cannot_make_anyone_superuser_or_set_their_password(
    client: Client, clinic_admin, physician
) -> None:
    client.force_login(clinic_admin)
    change = reverse("admin:auth_user_change", args=[clinic_admin.pk])
    form = client.get(change)
    assert form.status_code == 200 and 'name="is_superuser"' not in form.content.decode()
    client.post(
        change,
        {
            "username": "ada",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
            "groups": [],
        },
    )
    clinic_admin.refresh_from_db()
    assert not clinic_admin.is_superuser
    assert client.get(reverse("admin:auth_user_password_change", args=[physician.pk])).status_code == 403


def test_the_admin_never_deletes_a_clinical_record(client: Client, superuser, patient: Patient) -> None:
    client.force_login(superuser)
    for name in ("patient", "cause", "injection", "labresult", "symptomcheck", "medication", "decision"):
        assert client.get(reverse(f"admin:patients_{name}_changelist")).status_code == 200
        response = client.get(reverse(f"admin:patients_{name}_delete", args=[patient.pk]))
        assert response.status_code in (302, 403), name
    assert Patient.objects.filter(pk=patient.pk).exists()


# The access log -----------------------------------------------------------------------------------


# The FHIR API answers bearer tokens, not sessions (these clients get a 401); tests/fhir_api/test_read.py
# holds its patient URLs to the same rules with tokens: 404 for another clinic's patient, each read logged.
TOKEN_APIS = {"fhir_api"}


def _patient_urls() -> list[str]:
    """Every named URL pattern that takes a patient_id (and nothing else)."""
    names = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver) and pattern.namespace in TOKEN_APIS:
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, f"{pattern.namespace}:" if pattern.namespace else prefix)
            elif pattern.name and set(pattern.pattern.converters) == {"patient_id"}:
                names.append(prefix + pattern.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_page_of_a_patient_writes_an_access_log_row(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.on_time()
    names = _patient_urls()
    assert "patient_detail" in names and len(names) >= 6
    for name in names:
        before = AccessEvent.objects.count()
        response = physician_client.get(reverse(name, args=[patient.pk]))
        assert response.status_code in (200, 302), name  # 302: re-admitting a patient who is not discharged
        event = AccessEvent.objects.order_by("-pk").first()
        assert AccessEvent.objects.count() == before + 1, name
        assert (event.kind, event.user.username, list(event.patients.all())) == ("read", "phil", [patient]), name


def test_lists_and_search_log_every_patient_they_show(physician_client: Client, clinic: Clinic) -> None:
    shown = [clinic.overdue(3), clinic.overdue(5)]
    for response in (
        physician_client.get(reverse("worklist")),
        physician_client.get(reverse("dashboard")),
        physician_client.post(reverse("patient_list"), {"q": shown[0].family_name}),
    ):
        assert response.status_code == 200
    pages = {e.page: {p.pk for p in e.patients.all()} for e in AccessEvent.objects.filter(kind="read")}
    assert {shown[0].pk, shown[1].pk} <= pages["worklist"]
    assert {shown[0].pk, shown[1].pk} <= pages["dashboard"]
    assert shown[0].pk in pages["patient_list"]


def test_the_admins_patient_pages_are_logged(client: Client, superuser, patient: Patient) -> None:
    client.force_login(superuser)
    assert client.get(reverse("admin:patients_patient_change", args=[patient.pk])).status_code == 200
    event = AccessEvent.objects.get(kind="read")
    assert list(event.patients.all()) == [patient] and event.detail.startswith("admin patients.patient")


def test_logins_logouts_and_failures_are_logged_with_the_address_the_proxy_saw(client: Client, settings, nurse) -> None:
    settings.TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    proxied = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    log_in(proxied, "nina", "wrong-password")
    log_in(proxied, "nina")
    proxied.post(reverse("logout"))
    events = [(e.kind, e.username, e.ip_address) for e in AccessEvent.objects.order_by("pk")]
    assert events == [
        ("login_failed", "nina", "203.0.113.9"),
        ("login", "nina", "203.0.113.9"),
        ("logout", "nina", "203.0.113.9"),
    ]


def test_a_refused_or_missing_patient_is_logged_with_the_user(client: Client, stranger, nurse) -> None:
    client.force_login(stranger)
    client.get(reverse("patient_detail", args=[999]))
    client.force_login(nurse)
    client.get(reverse("patient_detail", args=[999]))
    refused = AccessEvent.objects.filter(kind__in=["denied", "not_found"]).order_by("pk")
    events = [(e.kind, e.username, e.detail) for e in refused]
    assert events == [("denied", "sam", "patient 999"), ("not_found", "nina", "patient 999")]


def test_the_access_log_is_append_only(physician_client: Client, patient: Patient) -> None:
    physician_client.get(reverse("patient_detail", args=[patient.pk]))
    event = AccessEvent.objects.get(kind="read")
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AccessedPatient.objects.update(patient=patient)


def test_the_access_log_exports_as_csv(client: Client, superuser, patient: Patient) -> None:
    client.force_login(superuser)
    client.get(reverse("patient_detail", args=[patient.pk]))
    ids = list(AccessEvent.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:audit_accessevent_changelist"), {"action": "export_csv", "_selected_action": ids}
    )
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/csv") and patient.mrn in text and "root" in text


# Headers ------------------------------------------------------------------------------------------


def test_pages_carry_a_strict_policy_and_are_never_cached(physician_client: Client, patient: Patient) -> None:
    response = physician_client.get(reverse("patient_detail", args=[patient.pk]))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "no-store" in response["Cache-Control"]
    assert "camera=()" in response["Permissions-Policy"]
    login_page = Client().get(reverse("login"))
    assert "Content-Security-Policy" in login_page


def test_search_never_puts_a_name_in_a_url(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.on_time()
    page = physician_client.get(reverse("patient_list")).content.decode()
    assert 'method="post"' in page and "hx-post" in page and "hx-get" not in page
    response = physician_client.post(reverse("patient_list"), {"q": patient.family_name})
    assert patient.mrn in response.content.decode()
    assert not AccessEvent.objects.filter(path__contains=patient.family_name).exists()


def test_a_user_without_patient_data_is_not_logged(client: Client, stranger) -> None:
    client.force_login(stranger)
    client.get(reverse("password_change"))
    assert not AccessEvent.objects.filter(kind="read").exists()


def test_the_superuser_is_not_exempt(client: Client, mfa_required) -> None:
    User.objects.create_superuser("boss", password="pw")
    log_in(client, "boss")
    assert client.get("/admin/")["Location"].startswith(reverse("mfa_setup"))
