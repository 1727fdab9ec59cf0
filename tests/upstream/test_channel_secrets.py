"""Channel secrets are encrypted at rest and survive a key rotation; GEMINI_API_KEY makes (and
keeps up to date) exactly one default channel."""

from io import StringIO

from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from generation.channels import DEFAULT_CHANNEL_NAME
from generation.models import Channel
from tests.upstream.conftest import make_channel


def stored_secret(channel: Channel) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM generation_channel WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def test_the_api_key_is_not_stored_in_the_clear(db):
    channel = make_channel("primary", "http://127.0.0.1:9", "AIza-very-secret-key")
    assert "AIza-very-secret-key" not in stored_secret(channel)
    assert Channel.objects.get(pk=channel.pk).secret == "AIza-very-secret-key"


def test_rotating_the_encryption_key_keeps_every_secret_readable(db, settings):
    channel = make_channel("primary", "http://127.0.0.1:9", "AIza-very-secret-key")
    before = stored_secret(channel)
    old_key = settings.SECRET_KEY
    settings.CHANNEL_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.CHANNEL_ENCRYPTION_OLD_KEYS = [old_key]

    call_command("rotate_channel_secrets", stdout=StringIO())

    settings.CHANNEL_ENCRYPTION_OLD_KEYS = []  # the old key is gone: only the new one reads it
    assert stored_secret(channel) != before
    assert Channel.objects.get(pk=channel.pk).secret == "AIza-very-secret-key"


def test_gemini_api_key_creates_one_default_channel_and_updates_it(db, settings):
    settings.GEMINI_API_KEY = "key-one"
    settings.GEMINI_BASE_URL = "http://127.0.0.1:8090"
    out = StringIO()
    call_command("ensure_default_channel", stdout=out)
    call_command("ensure_default_channel", stdout=out)
    channel = Channel.objects.get()
    assert (channel.name, channel.provider, channel.base_url) == (
        DEFAULT_CHANNEL_NAME, "gemini", "http://127.0.0.1:8090")
    assert channel.secret == "key-one"

    settings.GEMINI_API_KEY = "key-two"
    call_command("ensure_default_channel", stdout=out)
    assert Channel.objects.get().secret == "key-two"


def test_without_a_key_the_command_says_the_local_renderer_serves(db, settings):
    settings.GEMINI_API_KEY = None
    out = StringIO()
    call_command("ensure_default_channel", stdout=out)
    assert "LOCAL RENDERER" in out.getvalue()
    assert not Channel.objects.exists()
