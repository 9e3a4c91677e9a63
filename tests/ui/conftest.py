from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.ui.builders import Clinic


@pytest.fixture
def clinic(nurse: User, physician: User) -> Clinic:
    return Clinic(nurse=nurse, physician=physician)


@pytest.fixture
def nurse_client(client: Client, nurse: User) -> Client:
    client.force_login(nurse)
    return client


@pytest.fixture
def physician_client(client: Client, physician: User) -> Client:
    client.force_login(physician)
    return client
