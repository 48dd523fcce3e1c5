"""The audit engine: plain Python, no Django imports.

Runnable from the CLI, from Celery tasks and from tests without a database or broker.
``checks.engine.checks`` holds the check modules; importing it fills the registry.
"""
