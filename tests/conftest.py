"""Shared fixtures: an owner, a member and an outsider in another organization.

Jobs are run the way a worker runs them: the submit's on-commit hook puts a task on the real
django-q2 broker, and `run_queued_jobs` takes tasks off that broker and executes them.
"""

import pydoc
from dataclasses import dataclass

import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from rest_framework.test import APIClient

from accounts.models import Membership, Organization, Role, Scope, User
from accounts.services import api_key_create, organization_create
from billing.money import parse_usd


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 is slow on purpose; tests create many users and prove nothing about hashing cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Actor:
    user: User
    organization: Organization
    api_key: str

    @property
    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_key}")
        return client


def make_tenant(name: str, email: str, credits: str = "10") -> Actor:
    owner = User.objects.create_user(email=email, password="correct horse battery")
    organization = organization_create(name=name, owner=owner, signup_credits=parse_usd(credits))
    _, secret = api_key_create(organization=organization, name="owner key", created_by=owner,
                               scopes=list(Scope.values))
    return Actor(owner, organization, secret)


@pytest.fixture
def owner(db) -> Actor:
    return make_tenant("Northwind Agency", "owner@northwind.test")


@pytest.fixture
def member(owner) -> Actor:
    user = User.objects.create_user(email="member@northwind.test", password="correct horse b")
    Membership.objects.create(user=user, organization=owner.organization, role=Role.MEMBER)
    _, secret = api_key_create(organization=owner.organization, name="member key",
                               created_by=user)
    return Actor(user, owner.organization, secret)


@pytest.fixture
def outsider(db) -> Actor:
    return make_tenant("Contoso Studio", "owner@contoso.test")


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    """POST a generation and let its on-commit hook enqueue the task, as in production."""

    def _submit(actor: Actor, **payload):
        with django_capture_on_commit_callbacks(execute=True):
            return actor.api.post("/api/v1/generations", payload, format="json")

    return _submit


@pytest.fixture
def run_queued_jobs(db):
    """Execute every task waiting on the django-q2 broker; returns how many ran."""

    def _run() -> int:
        broker = get_broker()
        ran = 0
        while True:
            batch = broker.dequeue()
            if not batch:
                return ran
            for ack_id, payload in batch:
                task = SignedPackage.loads(payload)
                func = task["func"]
                func = pydoc.locate(func) if isinstance(func, str) else func
                func(*task["args"], **task["kwargs"])
                broker.acknowledge(ack_id)
                ran += 1

    return _run
