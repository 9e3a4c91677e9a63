"""The API tokens page: make one (shown once), list, revoke; only for roles that use the API."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from fhir_api import tokens
from fhir_api.models import ApiToken
from patients.models import Patient

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_makes_a_token_shown_once_and_stored_hashed(physician: User, patient: Patient) -> None:
    client = _client(physician)
    page = client.get("/api-tokens/")
    assert page.status_code == 200 and b'href="/api-tokens/"' in page.content  # in the menu
    response = client.post("/api-tokens/", {"label": "Regional registry", "days": "30"})
    assert response.status_code == 200
    secret = re.search(rb'data-testid="token-secret">([^<]+)<', response.content).group(1).decode()
    token = ApiToken.objects.get()
    assert (token.label, token.user, token.key_hash) == ("Regional registry", physician, tokens.token_hash(secret))
    assert (token.expires_at - token.created_at).days == 30
    again = client.get("/api-tokens/")
    assert secret.encode() not in again.content and token.prefix.encode() in again.content
    api = Client().get(f"/fhir/Patient/{patient.pk}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.status_code == 200


def test_a_bad_label_changes_nothing_and_keeps_what_was_typed(physician: User) -> None:
    response = _client(physician).post("/api-tokens/", {"label": "", "days": "400"})
    assert response.status_code == 400
    assert b"This field is required" in response.content and b'value="400"' in response.content
    assert not ApiToken.objects.exists()


def test_it_revokes_a_token_and_only_ones_own(physician: User, clinic_admin: User, patient: Patient) -> None:
    _client(physician).post("/api-tokens/", {"label": "mine", "days": "30"})
    token = ApiToken.objects.get()
    assert _client(clinic_admin).post(f"/api-tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    response = _client(physician).post(f"/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_role_without_the_api_has_no_token_page(nurse: User) -> None:
    assert _client(nurse).get("/api-tokens/").status_code == 403
    home = _client(nurse).get("/worklist/")
    assert home.status_code == 200 and b"API tokens" not in home.content
