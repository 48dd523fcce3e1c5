from launchready import deploy_checks  # noqa: F401  (registers the --deploy checks)
from launchready.celery import app as celery_app

__all__ = ["celery_app"]
