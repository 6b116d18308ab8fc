# Developer shortcuts. The README's two commands need nothing but Python 3.11.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint typecheck i18n bench clean

$(PY):
	python3.11 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q -e '.[test]'

run: install
	$(VENV)/bin/frontdoor run

test:
	bash scripts/test

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check bot flows storage profiles

typecheck: install
	$(VENV)/bin/mypy bot flows storage profiles nlu triage

# Refresh the catalog template from code and profile data, then merge it into every language.
i18n: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k t -o flows/locale/frontdoor.pot \
		--no-location --sort-output --project frontdoor --copyright-holder "Front Door" .
	$(PY) -m flows.catalogs update
	$(PY) -m flows.catalogs check

bench: install
	$(PY) benchmarks/nlu_bench.py
	$(PY) benchmarks/load_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
