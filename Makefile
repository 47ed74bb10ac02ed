# Atelier — `make run` to use it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast fuzz-nightly test-postgres lint format bench emulators chromium clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py ensure_first_user
	$(PY) manage.py runstudio

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The same tests again on PostgreSQL (running locally and in CI) for the code whose SQL differs by
# database: full-text search, keyset sorts, comparisons, budgets, the job runner, the fair claim, recovery
# and the API.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/atelier
POSTGRES_TESTS := tests/test_gallery_pages.py tests/test_gallery_organising.py tests/test_comparisons.py \
	tests/test_costs_and_budgets.py tests/test_job_runner.py tests/test_api.py \
	tests/test_gallery_hostile_input.py tests/test_gallery_board_and_tag_rules.py tests/test_gallery_migrations.py \
	tests/test_hostile_studio_input.py tests/test_fuzz_routes.py tests/test_fair_queue.py tests/test_recovery.py
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
PYTEST = sh -c '"$$0" -m pytest "$$@"; code=$$?; [ $$code -eq 5 ] && echo "pytest collected no tests"; exit $$code' $(PY)

test: lint chromium
	POSTGRES_URL=$(POSTGRES_URL) $(PYTEST)
	DATABASE_URL=$(POSTGRES_URL) $(PYTEST) -p no:playwright $(POSTGRES_TESTS)

# The suite without the fuzz tests (tests/test_fuzz_*.py), the browser and the chaos tests (tests/test_chaos.py,
# real clusters killed): a quick check while working.
test-fast: $(STAMP)
	$(PYTEST) -p no:playwright -m "not fuzz and not browser and not chaos"

# The fuzz tests at length: every listed hostile value in every htmx variant, FUZZ_EXAMPLES generated
# examples per case from a fresh seed, on SQLite and on PostgreSQL (which refuses NUL and over-long
# strings where SQLite stores them). `make test` runs them at the short, seeded CI setting.
FUZZ_EXAMPLES ?= 150
FUZZ_TESTS := tests/test_fuzz_routes.py tests/test_fuzz_uploads.py
fuzz-nightly: $(STAMP)
	FUZZ_NIGHTLY=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PYTEST) -p no:playwright -m fuzz $(FUZZ_TESTS)
	DATABASE_URL=$(POSTGRES_URL) FUZZ_NIGHTLY=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PYTEST) -p no:playwright -m fuzz $(FUZZ_TESTS)

test-postgres: $(STAMP)
	DATABASE_URL=$(POSTGRES_URL) $(PYTEST) -p no:playwright $(POSTGRES_TESTS)

emulators: $(STAMP)
	$(PY) -m tests.emulators --port 8801

bench: $(STAMP)
	$(PY) bench/postprocess.py
	$(PY) bench/queue_pickup.py
	$(PY) bench/gallery.py
	$(PY) bench/providers.py
	POSTGRES_URL=$(POSTGRES_URL) $(PY) bench/chaos.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
