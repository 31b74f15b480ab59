# Two commands do everything on a fresh machine (Python 3.11+, make, the package registries):
#   make report   set up .venv and render the annual Iquitos report into reports/
#   make test     set up .venv and run the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# numba kernels compiled and cached (pvbess/**/__pycache__/*.nbi/.nbc) for these sources
WARM   := $(VENV)/.numba-warm-stamp
SOURCES := $(shell find pvbess -name '*.py')
export MPLBACKEND := Agg

.PHONY: venv test report data bench lab clean-reports

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## The first call of a kernel in a fresh process then loads it from the cache instead of
## compiling it (python -m pvbess.warmup; re-run when a source changes, cheap when none did).
$(WARM): $(STAMP) $(SOURCES)
	$(PY) -m pvbess.warmup -q
	touch $(WARM)

venv: $(WARM)

## make test: the full suite, then every notebook under nbval. Exit code 5 (no tests) fails too.
## (nbval runs separately: --dist loadscope keeps each notebook's cells on one worker.)
test: $(WARM)
	$(PY) -m pytest -n 2 --dist loadgroup tests
	$(PY) -m pytest -n 2 --dist loadscope --nbval-lax notebooks

## make report: render every params/*.yaml into reports/<run-id>/ (PARAMS=... for a subset)
report: $(WARM)
	$(PY) -m pvbess.report $(or $(PARAMS),params/*.yaml)

## make data: regenerate data/iquitos/ from the site facts (deterministic for the seed)
data: $(STAMP)
	$(PY) -m pvbess.inputs.dataset

## make bench: print the speed and memory numbers
bench: $(WARM)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

## make lab: open JupyterLab on the notebooks
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/
