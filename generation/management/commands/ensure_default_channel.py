from django.core.management.base import BaseCommand

from generation.channels import channel_ensure_default
from generation.models import Channel


class Command(BaseCommand):
    help = "Create or update the upstream channel described by GEMINI_API_KEY / GEMINI_BASE_URL."

    def handle(self, *args, **options):
        channel = channel_ensure_default()
        if channel is not None:
            self.stdout.write(f"Upstream: channel {channel.name} -> {channel.base_url}")
        elif not Channel.objects.filter(enabled=True).exists():
            self.stdout.write("Upstream: no channel configured; the LOCAL RENDERER serves every "
                              "job (set GEMINI_API_KEY or add a channel in the admin).")
        else:
            names = ", ".join(Channel.objects.filter(enabled=True).values_list("name", flat=True))
            self.stdout.write(f"Upstream: channels {names}")
