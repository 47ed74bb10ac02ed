# Atelier — `make run` to use it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench chromium clean

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

test: lint chromium
	$(PY) -m pytest; code=$$?; if [ $$code -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$code

bench: $(STAMP)
	$(PY) bench/postprocess.py
	$(PY) bench/queue_pickup.py
	$(PY) bench/gallery.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
