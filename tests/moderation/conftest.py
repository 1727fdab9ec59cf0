"""Moderation fixtures: staff users with and without the moderation permission, a blocked job.

The upstream is the fake Gemini server over a real socket, reached through the default channel
that `manage.py ensure_default_channel` makes from GEMINI_API_KEY / GEMINI_BASE_URL, so the
block travels the production path: HTTP answer -> Gemini provider -> SafetyBlocked -> worker."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from generation.models import GenerationJob
from tests.fakes.fake_gemini import FakeGeminiServer, running_fake_gemini

PRO = "gemini-3-pro-image-preview"
# What the upstream rates a refused request: dangerous content, blocked.
HIGH_DANGER = [
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "LOW"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


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


def block_every_request(upstream: FakeGeminiServer, outcome: str = "image_safety") -> None:
    """From now on the fake upstream answers every request with this safety outcome."""
    upstream.app.configure(fault_rate=1.0, fault_mix={outcome: 1.0})


def answer_every_request(upstream: FakeGeminiServer, outcome: str = "ok") -> None:
    """From now on the fake upstream answers every request normally (or with `outcome`)."""
    if outcome == "ok":
        upstream.app.configure(fault_rate=0.0)
    else:
        upstream.app.configure(fault_rate=1.0, fault_mix={outcome: 1.0})


@pytest.fixture(scope="session")
def _moderation_fake_gemini():
    with running_fake_gemini(retry_delay=0.05) as fake:
        yield fake


@pytest.fixture
def blocking_upstream(db, settings, _moderation_fake_gemini) -> FakeGeminiServer:
    """The fake Gemini server behind the default channel, refusing every request with
    IMAGE_SAFETY and HIGH_DANGER ratings until told otherwise."""
    fake = _moderation_fake_gemini
    fake.app.reset(config=True)
    settings.GEMINI_API_KEY, settings.GEMINI_BASE_URL = fake.api_key, fake.base_url
    call_command("ensure_default_channel", stdout=io.StringIO())
    fake.app.configure(safety_ratings=HIGH_DANGER)
    block_every_request(fake)
    yield fake
    fake.app.reset(config=True)


@pytest.fixture
def blocked_job(owner, submit, run_queued_jobs, blocking_upstream):
    """A job the upstream refused, with its moderation case."""

    def _blocked(actor=None, prompt="a chemistry set exploding") -> GenerationJob:
        response = submit(actor or owner, model=PRO, prompt=prompt)
        assert response.status_code == 202, response.json()
        run_queued_jobs()
        return GenerationJob.objects.get(pk=response.json()["id"])

    return _blocked
