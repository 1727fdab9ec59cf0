"""Default offers: $10, $50, $100 and $500 packs, and +10 % bonus credits from $100.
Both are edited in the admin afterwards."""

from django.db import migrations

USD = 1_000_000
PACKS = [10, 50, 100, 500]


def seed(apps, schema_editor):
    CreditPack = apps.get_model("payments", "CreditPack")
    BonusRule = apps.get_model("payments", "BonusRule")
    CreditPack.objects.bulk_create(
        CreditPack(name=f"${dollars} pack", amount=dollars * USD, sort_order=index)
        for index, dollars in enumerate(PACKS)
    )
    BonusRule.objects.create(min_amount=100 * USD, bonus_bp=1000, active=True)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
