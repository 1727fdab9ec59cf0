from django.core.management.base import BaseCommand
from django.db import transaction

from generation.crypto import rotate
from generation.models import Channel


class Command(BaseCommand):
    help = ("Re-encrypt every channel secret under CHANNEL_ENCRYPTION_KEY (old keys listed in "
            "CHANNEL_ENCRYPTION_OLD_KEYS). Run after changing the key, then drop the old keys.")

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for channel in Channel.objects.select_for_update().exclude(secret_encrypted=""):
                Channel.objects.filter(pk=channel.pk).update(
                    secret_encrypted=rotate(channel.secret_encrypted))
                count += 1
        self.stdout.write(f"Re-encrypted {count} channel secrets.")
