"""Stage 4's measurements: the p95 probe (``probe.py``) and its percentiles (``stats.py``)."""
