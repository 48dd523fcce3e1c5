"""gunicorn settings of the image and benchmarks/panel_load.py
(``gunicorn -c python:launchready.gunicorn_conf …``).

Each worker imports Django, the apps and their templates once: hundreds of thousands of
objects that live as long as the worker. Python's full garbage collection walks all of them
every time it runs, a pause of tens of ms that lands on whichever request is in flight (the
panel's p99 under load). Freezing them after start-up moves them out of the collector's sight
(``gc.freeze``, Python 3.7+); objects made while serving requests are collected as before.
"""

from __future__ import annotations

import gc


def post_worker_init(worker) -> None:
    """gunicorn hook, once per worker after the app is loaded."""
    gc.collect()
    gc.freeze()
