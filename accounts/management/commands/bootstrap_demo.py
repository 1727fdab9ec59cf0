"""First-run setup for `make run`: a demo organization, brand, staff superuser and API key.

The key's secret cannot be recovered from the database (only its hash is stored), so the demo
credentials are kept in var/demo.json (mode 600) for the developer running the embedded default.
"""

import json
import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Organization, User
from accounts.services import api_key_create, organization_create
from billing.money import parse_usd

DEMO_EMAIL = "admin@atelier.local"
EXAMPLE_BODY = json.dumps({"model": "gemini-3-pro-image-preview", "prompt": "a lighthouse at dawn",
                           "image_size": "2K", "aspect_ratio": "16:9"}, separators=(",", ":"))


class Command(BaseCommand):
    help = "Create the demo tenant and staff user on first run, and print how to use them."

    def handle(self, *args, **options):
        path = settings.VAR_DIR / "demo.json"
        demo = json.loads(path.read_text()) if path.exists() else None
        if demo is None or not Organization.objects.filter(pk=demo["organization"]).exists():
            demo = self._create()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(demo, indent=2))
            os.chmod(path, 0o600)
        port = os.environ.get("PORT", "8000")
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(f"""
Atelier is starting on {base}  (embedded default: SQLite, ORM queue, local renderer)

  Dashboard     {base}/login/   {demo['email']} / {demo['password']}
  Staff admin   {base}/admin/   (same credentials)
  API key       {demo['api_key']}
  Organization  {demo['organization']}   Brand {demo['brand']}

  Try it:
    export ATELIER_KEY={demo['api_key']}
    curl -s {base}/api/v1/generations -H "Authorization: Bearer $ATELIER_KEY" \\
      -H 'Content-Type: application/json' \\
      -d '{EXAMPLE_BODY}'
    curl -s {base}/api/v1/generations/<id> -H "Authorization: Bearer $ATELIER_KEY"
    curl -s {base}/api/v1/wallet -H "Authorization: Bearer $ATELIER_KEY"
""")

    @transaction.atomic
    def _create(self) -> dict:
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_superuser(email=DEMO_EMAIL, password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        organization = organization_create(name="Demo Agency", owner=user, brand_name="Demo Brand",
                                           signup_credits=parse_usd("25"))
        _, secret = api_key_create(organization=organization, name="demo", created_by=user)
        return {"email": DEMO_EMAIL, "password": password, "api_key": secret,
                "organization": str(organization.pk),
                "brand": str(organization.brands.get().pk)}
