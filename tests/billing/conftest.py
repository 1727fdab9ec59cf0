"""Fixtures for money tests: wallets, adjustments, and a staff admin client."""

import itertools

import pytest

from accounts.models import User
from billing.models import EntryKind, Wallet
from billing.services import ledger_post

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"

_keys = itertools.count()


def wallet_of(actor) -> Wallet:
    return Wallet.objects.get(organization=actor.organization)


def adjust(actor, amount: int, *, kind: str = EntryKind.ADJUSTMENT, **fields):
    """Move `amount` micro-USD in or out of the actor's wallet through the ledger."""
    return ledger_post(wallet=wallet_of(actor), kind=kind, amount=amount,
                       idempotency_key=f"test-adjust:{next(_keys)}", memo="test", **fields)


@pytest.fixture
def staff_client(db, client):
    staff = User.objects.create_superuser(email="ops@atelier.test", password="pw-ops-123456")
    client.force_login(staff)
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Money tests create many users; password hashing strength is not what they measure.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
