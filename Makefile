# Set-up: `make demo` (install + run the ECG default recipe), `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
PYTEST_ARGS ?=

.PHONY: install demo test fuzz bench bench-baselines bench-ucr memory-check docs clean

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

# LFR on the open UCR suite (7 public sets, 3 seeds; about 2 h on 2 CPUs, resumable; UCR_ARGS="--sets GunPoint" etc.) beside published anchors; rewrites its section of docs/benchmarks.md
bench-ucr: install
	$(PY) benchmarks/ucr_suite.py --write-docs $(UCR_ARGS)

# corpora larger than RAM (issue 14): core prepare peak RSS, streamed core run under RLIMIT_DATA, in-memory path fails, flat N -> 4N (tens of minutes, ~11 GB disk; MEMORY_ARGS="--records 6000 --cap 1.5" etc.)
memory-check: install
	nice -n 10 $(PY) benchmarks/memory_check.py --flat 2000 $(MEMORY_ARGS)

# the documentation site (mkdocs + material from the `docs` extra) into site/, warnings = errors
docs: $(VENV)/.docs-installed
	$(VENV)/bin/mkdocs build --strict

$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[docs]'
	touch $@

clean:
	rm -rf $(VENV) runs lightning_logs .pytest_cache site
