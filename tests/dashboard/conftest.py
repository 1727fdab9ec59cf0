"""Dashboard fixtures: people with each role, logged in through Django's test client."""

import pytest
from django.test import Client

from accounts.models import Membership, Role, User


def add_person(organization, email: str, role: str, brands=()) -> User:
    user = User.objects.create_user(email=email, password="correct horse battery")
    membership = Membership.objects.create(user=user, organization=organization, role=role)
    membership.brands.set(brands)
    return user


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return browser_for(owner.user)


@pytest.fixture
def viewer(owner) -> User:
    return add_person(owner.organization, "viewer@northwind.test", Role.VIEWER)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return browser_for(viewer)


@pytest.fixture
def member_client(member) -> Client:
    return browser_for(member.user)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return browser_for(outsider.user)
