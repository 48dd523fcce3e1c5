# Launch Ready — set-up and everyday commands. `make demo` and `make test` work from a clean clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/launchready
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PORT ?= 8000

.PHONY: demo test serve worker beat lint bench clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	@$(PY) -c "import django, celery, weasyprint, trustme" 
	@touch $@

# Audit the demo scenario on the embedded default (SQLite, in-process), print the risk list,
# write the handover PDF.
demo: $(VENV)/.installed
	@env -u DATABASE_URL -u REDIS_URL $(PY) manage.py migrate -v0
	@env -u DATABASE_URL -u REDIS_URL $(PY) manage.py audit --scenario scenarios/demo.yaml

# Start PostgreSQL and Redis if they are down, then run the whole suite on them.
test: $(VENV)/.installed
	@bash scripts/services.sh
	@# The panel's own secret scan: no leak in the repository's files (docs/secret-scan.md).
	@$(PY) scripts/scan_own_repo.py
	@DATABASE_URL=$(PG_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

# The panel with demo data on the embedded default; prints a consultant's and a founder's login.
# monitor_loop probes the monitors meanwhile (Celery beat and a worker do it with Redis).
serve: $(VENV)/.installed
	@env -u DATABASE_URL -u REDIS_URL $(PY) manage.py migrate -v0
	@env -u DATABASE_URL -u REDIS_URL $(PY) manage.py seed_demo --port $(PORT)
	@# Monitors are probed by monitor_loop beside the server (no Celery here); it stops with it.
	@env -u DATABASE_URL -u REDIS_URL sh -c '$(PY) manage.py monitor_loop & loop=$$!; \
		trap "kill $$loop 2>/dev/null" EXIT INT TERM; $(PY) manage.py runserver 127.0.0.1:$(PORT)'

worker: $(VENV)/.installed
	$(VENV)/bin/celery -A launchready worker -l info --concurrency 4

beat: $(VENV)/.installed
	$(VENV)/bin/celery -A launchready beat -l info

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	@$(PY) benchmarks/audit_wall.py
	@$(PY) benchmarks/edge_stage.py
	@$(PY) benchmarks/email_stage.py
	@$(PY) benchmarks/handover_pdf.py
	@$(PY) benchmarks/monitor_throughput.py
	@$(PY) benchmarks/p95_probe.py
	@$(PY) benchmarks/secret_scan.py
	@$(PY) benchmarks/panel_load.py

clean:
	rm -rf var/ .pytest_cache
