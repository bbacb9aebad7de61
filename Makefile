# Set-up: `make demo` (install + run the ECG default recipe), `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
PYTEST_ARGS ?=

.PHONY: install demo test fuzz bench bench-baselines docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(PLUGINS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -e '.[test]' $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

demo: install
	$(VENV)/bin/core run --plugin ecg

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# the reader fuzz tests (Hypothesis) with a long profile: 500 damaged inputs per reader
fuzz: install
	CORE_FUZZ_EXAMPLES=500 $(PY) -m pytest -q -m fuzz $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/lfr_step.py

# LFR against the baselines on every plugin's default data (minutes per plugin); rewrites docs/benchmarks.md
bench-baselines: install
	$(PY) benchmarks/bench_all.py

# the documentation site (mkdocs + material from the `docs` extra) into site/, warnings = errors
docs: $(VENV)/.docs-installed
	$(VENV)/bin/mkdocs build --strict

$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[docs]'
	touch $@

clean:
	rm -rf $(VENV) runs lightning_logs .pytest_cache site
