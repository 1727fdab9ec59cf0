from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Brand, Organization, Scope
from accounts.services import api_key_create
from config.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for an organization (optionally bound to one brand); print it."

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="organization id")
        parser.add_argument("--brand", help="bind the key to this brand id")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--scopes", help=f"comma-separated, from: {', '.join(Scope.values)}")

    def handle(self, *args, organization, brand, name, scopes, **options):
        try:
            org = Organization.objects.filter(pk=organization).first()
            bound = Brand.objects.filter(pk=brand, organization=org).first() if brand else None
        except ValidationError:  # not a UUID
            org = bound = None
        if org is None:
            raise CommandError(f"no organization {organization}")
        if brand and bound is None:
            raise CommandError(f"no brand {brand} in {org.name}")
        try:
            _, secret = api_key_create(
                organization=org, name=name, brand=bound,
                scopes=scopes.split(",") if scopes else None)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(secret)
