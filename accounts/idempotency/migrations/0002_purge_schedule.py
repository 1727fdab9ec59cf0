from django.db import migrations

from config.schedules import schedule_ensure, schedule_remove

NAME = "purge expired idempotency keys"


def forwards(apps, schema_editor):
    schedule_ensure(apps, name=NAME, func="accounts.idempotency.tasks.purge_expired_idempotency_keys", minutes=60)


def backwards(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("idempotency", "0001_idempotency_records"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(forwards, backwards)]
