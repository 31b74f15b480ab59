# Two commands do everything on a fresh machine (Python 3.11+, make, the package registries):
#   make report   set up .venv and render the annual Iquitos report into reports/
#   make test     set up .venv and run the whole test suite (what CI runs)
# and two open the notebooks for exploring:
#   make lab        JupyterLab on http://127.0.0.1:8888 (LAB_PORT=...), root included
#   make notebook   the classic notebook interface (Notebook 7), the same way
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# numba kernels compiled and cached (pvbess/**/__pycache__/*.nbi/.nbc) for these sources
WARM   := $(VENV)/.numba-warm-stamp
SOURCES := $(shell find pvbess -name '*.py')
export MPLBACKEND := Agg

LAB_PORT ?= 8888
# notebooks are saved stripped of outputs (pvbess/report/strip.py): running them never dirties git
# (tests/browser starts JupyterLab and Notebook 7 with these same options)
JUPYTER_OPTIONS := --ip=127.0.0.1 --ServerApp.root_dir=notebooks \
	--ContentsManager.pre_save_hook=pvbess.report.strip.pre_save_hook
# Jupyter refuses to run as root (a container, CI) unless told to
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: venv git-filter chromium ha-venv test report report-learned data bench lab notebook \
	clean-reports

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,rl]"  # rl: torch 2.13.0 CPU (on disk), SB3, gymnasium
	touch $(STAMP)

## The first call of a kernel in a fresh process then loads it from the cache instead of
## compiling it (python -m pvbess.warmup; re-run when a source changes, cheap when none did).
$(WARM): $(STAMP) $(SOURCES)
	$(PY) -m pvbess.warmup -q
	touch $(WARM)

venv: $(WARM) git-filter

## the git filter pvbess-strip (.gitattributes): notebooks saved with outputs commit stripped
git-filter: $(STAMP)
	$(PY) -m pvbess.report.strip --install

## Debian's chromium for the browser test (tests/browser), installed only when missing and only
## as root; otherwise the test skips (CI, as root, installs it and requires it)
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
		|| apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }

## Home Assistant core in its own venv for the live tests (tests/live; they skip without it,
## except under PVBESS_REQUIRE_HA=1): it pins its own dependencies, so never in .venv
HA_VENV := .ha-venv
$(HA_VENV)/.ha-installed: scripts/ha_venv.sh
	scripts/ha_venv.sh $(HA_VENV)

ha-venv: $(HA_VENV)/.ha-installed

## make test: the full suite, then every notebook under nbval. Exit code 5 (no tests) fails too.
## (nbval runs separately: --dist loadscope keeps each notebook's cells on one worker.)
test: venv chromium
	$(PY) -m pytest -n 2 --dist loadgroup tests
	$(PY) -m pytest -n 2 --dist loadscope --nbval-lax notebooks

## make report: render every params/*.yaml into reports/<run-id>/ (PARAMS=... for a subset)
report: venv
	$(PY) -m pvbess.report $(or $(PARAMS),params/*.yaml)

## make report-learned: the learned controllers (notebook 05) with their full training budget,
## params/learned/*.yaml (about 30 min on 2 cores); make report leaves them out to stay fast
report-learned: venv
	$(PY) -m pvbess.report params/learned/*.yaml

## make data: regenerate data/iquitos/ from the site facts (deterministic for the seed)
data: $(STAMP)
	$(PY) -m pvbess.inputs.dataset

## make bench: print the speed and memory numbers
bench: venv
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

## make lab: JupyterLab on the notebooks, on this machine only (127.0.0.1), for any user
lab: venv
	$(VENV)/bin/jupyter lab $(JUPYTER_OPTIONS) --port=$(LAB_PORT) $(ALLOW_ROOT)

## make notebook: the classic notebook interface (Notebook 7) on the notebooks, the same way
notebook: venv
	$(VENV)/bin/jupyter notebook $(JUPYTER_OPTIONS) --port=$(LAB_PORT) $(ALLOW_ROOT)
