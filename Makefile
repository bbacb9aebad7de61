# Set-up: `make demo` (install + run the ECG default recipe), `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
PYTEST_ARGS ?=

.PHONY: install demo test bench clean

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

bench: install
	$(PY) benchmarks/lfr_step.py

clean:
	rm -rf $(VENV) runs lightning_logs .pytest_cache
