# Image retention lives in generation/retention.py (no models); its schedule is kept here.
from django.db import migrations

from config.schedules import schedule_ensure, schedule_remove

NAME = "expire old images"


def forwards(apps, schema_editor):
    schedule_ensure(apps, name=NAME, func="generation.retention.expire_images", minutes=60)


def backwards(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("dedupe", "0001_dedupe_policy"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(forwards, backwards)]
