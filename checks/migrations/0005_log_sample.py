# The log hygiene scan of a project's log sample (stage 5): only the redacted result is kept.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('checks', '0004_monitoring'),
        ('projects', '0005_finding_lifecycle_invites'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LogSample',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(blank=True, max_length=255)),
                ('size_bytes', models.PositiveIntegerField()),
                ('lines', models.PositiveIntegerField()),
                ('phone_region', models.CharField(max_length=2)),
                ('scan', models.JSONField(default=dict)),
                ('scanned_at', models.DateTimeField()),
                ('project', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='log_sample', to='projects.project')),
                ('scanned_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
    ]
