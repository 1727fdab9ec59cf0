from django.db import migrations

from config.schedules import schedule_ensure, schedule_remove

NAME = "deliver due webhooks"


def forwards(apps, schema_editor):
    schedule_ensure(apps, name=NAME, func="generation.webhooks.tasks.deliver_due_webhooks", minutes=1)


def backwards(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_webhook_endpoints_and_deliveries"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(forwards, backwards)]
