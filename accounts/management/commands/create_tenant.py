import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from accounts.services import api_key_create, organization_create
from billing.money import parse_usd


class Command(BaseCommand):
    help = "Create an organization with an owner, a brand and an API key; print one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--email", required=True, help="the owner's email (created if new)")
        parser.add_argument("--credits", help="starting credits in USD, e.g. 25 or 0.50 "
                                              "(default: the signup rule)")

    def handle(self, *args, name, email, credits, **options):
        try:
            amount = parse_usd(credits) if credits is not None else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        with transaction.atomic():
            owner = User.objects.filter(email=email.lower()).first() \
                or User.objects.create_user(email=email)
            organization = organization_create(name=name, owner=owner, signup_credits=amount)
            brand = organization.brands.get()
            _, secret = api_key_create(organization=organization, name="default",
                                       created_by=owner)
        self.stdout.write(json.dumps({"organization": str(organization.pk),
                                      "brand": str(brand.pk), "api_key": secret}))
