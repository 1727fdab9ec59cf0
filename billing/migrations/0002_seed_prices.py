"""Default prices: Google's list prices (../shared/reference/gemini-image-api.md), and $0.10 of
free credits on signup. Both are edited in the admin afterwards."""

from datetime import UTC, datetime

from django.db import migrations

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"
# (model, tier, our price, Google's cost), micro-USD per image.
ITEMS = [
    (FLASH, "1K", 39_000, 39_000),
    (PRO, "1K", 134_000, 134_000),
    (PRO, "2K", 134_000, 134_000),
    (PRO, "4K", 240_000, 240_000),
]


def seed(apps, schema_editor):
    PriceList = apps.get_model("billing", "PriceList")
    PriceItem = apps.get_model("billing", "PriceItem")
    SignupCreditRule = apps.get_model("billing", "SignupCreditRule")
    price_list = PriceList.objects.create(
        name="Google list prices", effective_at=datetime(2025, 1, 1, tzinfo=UTC),
        grounding_surcharge=14_000, google_grounding_cost=14_000,
        reference_image_surcharge=1_100, google_reference_image_cost=1_100,
    )
    PriceItem.objects.bulk_create(
        PriceItem(price_list=price_list, model=model, tier=tier, unit_price=price,
                  google_cost=cost)
        for model, tier, price, cost in ITEMS
    )
    SignupCreditRule.objects.create(amount=100_000, active=True)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
