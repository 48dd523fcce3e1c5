"""The Celery app. Settings come from Django's, under the ``CELERY_`` namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchready.settings")

# DjangoTask adds delay_on_commit: a task is sent only once its rows are committed.
app = Celery("launchready", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
