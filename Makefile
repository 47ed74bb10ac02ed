# Atelier — `make run` to use it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Running needs requirements.txt only; the dev stamp adds the test and lint tools on top.
RUNTIME_STAMP := $(VENV)/.runtime-installed
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
EMULATOR_PORT ?= 8801

.PHONY: run demo test test-fast fuzz-nightly test-postgres lint format bench emulators chromium clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(RUNTIME_STAMP)
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py ensure_first_user
	$(PY) manage.py runstudio --host $(HOST) --port $(PORT)

# The provider emulators and the studio pointed at them, in one command, with its own data folder
# (its own first user) so emulated images stay out of the real gallery. Ctrl-C stops everything.
DEMO_DATA_DIR ?= data/demo
demo: $(RUNTIME_STAMP)
	ATELIER_DATA_DIR=$(DEMO_DATA_DIR) $(PY) manage.py migrate --noinput -v 0
	ATELIER_DATA_DIR=$(DEMO_DATA_DIR) $(PY) manage.py ensure_first_user
	ATELIER_DATA_DIR=$(DEMO_DATA_DIR) $(PY) -m tests.emulators --port $(EMULATOR_PORT) -- \
		$(PY) manage.py runstudio --host $(HOST) --port $(PORT)

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
# database: full-text search, keyset sorts, comparisons, budgets, the job runner, the fair claim, recovery,
# the API, log-in lock-outs (axes' rows), and text PostgreSQL refuses where SQLite stores it (NUL,
# over-long: the route fuzz sends only those there, and a token named with a NUL).
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/atelier
POSTGRES_TESTS := tests/test_gallery_pages.py tests/test_gallery_organising.py tests/test_comparisons.py \
	tests/test_costs_and_budgets.py tests/test_comparison_budgets.py tests/test_job_runner.py tests/test_api.py \
	tests/test_gallery_hostile_input.py tests/test_gallery_board_and_tag_rules.py tests/test_gallery_migrations.py \
	tests/test_hostile_studio_input.py tests/test_fuzz_routes.py tests/test_orphan_sweep.py \
	tests/test_saved_searches.py tests/test_login_throttling.py \
	tests/test_token_scopes.py::test_a_token_name_with_a_nul_byte_is_refused_not_a_500 \
	tests/test_fair_queue.py tests/test_recovery.py
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
PYTEST = sh -c '"$$0" -m pytest "$$@"; code=$$?; [ $$code -eq 5 ] && echo "pytest collected no tests"; exit $$code' $(PY)

# The tests that start no browser and no cluster run on both cores (pytest-xdist: a test database
# per worker); the browser and chaos tests run one at a time after them.
test: lint chromium
	POSTGRES_URL=$(POSTGRES_URL) $(PYTEST) -n 2 -p no:playwright -m "not browser and not chaos"
	POSTGRES_URL=$(POSTGRES_URL) $(PYTEST) -m "browser or chaos"
	DATABASE_URL=$(POSTGRES_URL) $(PYTEST) -p no:playwright $(POSTGRES_TESTS)

# The suite without the fuzz tests (tests/test_fuzz_*.py), the browser and the chaos tests (tests/test_chaos.py,
# real clusters killed): a quick check while working.
test-fast: $(STAMP)
	$(PYTEST) -n 2 -p no:playwright -m "not fuzz and not browser and not chaos"

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

emulators: $(RUNTIME_STAMP)
	$(PY) -m tests.emulators --port $(EMULATOR_PORT)

bench: $(STAMP)
	$(PY) bench/postprocess.py
	$(PY) bench/queue_pickup.py
	$(PY) bench/gallery.py
	$(PY) bench/leaderboard.py
	$(PY) bench/providers.py
	$(PY) bench/browser_latency.py
	POSTGRES_URL=$(POSTGRES_URL) $(PY) bench/chaos.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
