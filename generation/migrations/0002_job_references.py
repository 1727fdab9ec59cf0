# Reference images, multi-turn history and safety block reasons on generation jobs.

import django.db.models.deletion
import generation.models
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='generationjob',
            name='block_reason',
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name='generationjob',
            name='history',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='generationjob',
            name='model_turn',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='generationjob',
            name='parent',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='children', to='generation.generationjob'),
        ),
        migrations.CreateModel(
            name='JobReference',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('index', models.PositiveSmallIntegerField(default=0)),
                ('is_mask', models.BooleanField(default=False)),
                ('file', models.FileField(max_length=300, upload_to=generation.models.reference_upload_path)),
                ('mime_type', models.CharField(max_length=40)),
                ('width', models.PositiveIntegerField()),
                ('height', models.PositiveIntegerField()),
                ('size_bytes', models.PositiveBigIntegerField()),
                ('sha256', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='references', to='generation.generationjob')),
            ],
            options={
                'ordering': ['index'],
                'constraints': [models.UniqueConstraint(fields=('job', 'index'), name='one_reference_per_index')],
            },
        ),
    ]
