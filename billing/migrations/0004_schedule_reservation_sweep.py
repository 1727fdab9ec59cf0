"""Every five minutes, release reservations that outlived their job (billing.sweeps)."""

from django.db import migrations

NAME = "billing: release orphaned reservations"


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={"func": "billing.tasks.sweep_reservations", "schedule_type": "I",
                  "minutes": 5, "repeats": -1},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_agency_pricing_promos_spend_caps"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
