"""Moderation fixtures: staff users with and without the moderation permission, a blocked job."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from generation.models import GenerationJob
from tests.fakes.safety_upstream import SafetyBlockingUpstream

PRO = "gemini-3-pro-image-preview"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # These tests create several users each; real PBKDF2 rounds would dominate their run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def staff_client(email: str, *permissions: str, superuser: bool = False) -> Client:
    user = User.objects.create_user(email=email, password="correct horse battery",
                                    is_staff=True, is_superuser=superuser)
    for codename in permissions:
        app_label, name = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                         codename=name))
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def moderator(db) -> Client:
    return staff_client("moderator@atelier.test", "moderation.moderate_case")


@pytest.fixture
def staff_without_permission(db) -> Client:
    return staff_client("support@atelier.test")


@pytest.fixture
def case_viewer(db) -> Client:
    """Staff who may look at the queue but not decide."""
    return staff_client("auditor@atelier.test", "moderation.view_moderationcase")


@pytest.fixture
def ordinary_user(owner) -> Client:
    client = Client()
    client.force_login(owner.user)
    return client


@pytest.fixture
def superuser(db) -> Client:
    return staff_client("root@atelier.test", superuser=True)


@pytest.fixture
def blocking_upstream(monkeypatch) -> SafetyBlockingUpstream:
    upstream = SafetyBlockingUpstream()
    monkeypatch.setattr("generation.services.provider_for", lambda model: upstream)
    return upstream


@pytest.fixture
def blocked_job(owner, submit, run_queued_jobs, blocking_upstream):
    """A job the upstream refused, with its moderation case."""

    def _blocked(actor=None, prompt="a chemistry set exploding") -> GenerationJob:
        response = submit(actor or owner, model=PRO, prompt=prompt)
        assert response.status_code == 202, response.json()
        run_queued_jobs()
        return GenerationJob.objects.get(pk=response.json()["id"])

    return _blocked
