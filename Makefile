# One-command set-up: `make run` and `make test` create .venv when missing and install.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test lint setup browser bench clean

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "make: installing requirements-dev.txt into $(VENV) (torch 2.13.0 and this package with its [dev] extras)"
	$(PY) -m pip install -q -r requirements-dev.txt
	@echo "make: compiling the numba kernels of every model into numba's cache (once, a few minutes)"
	$(PY) scripts/warm_kernel_cache.py
	touch $(STAMP)

setup: $(STAMP) browser

# Debian chromium for the browser tests (never `playwright install`: no browser downloads here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make: chromium not found; installing Debian's chromium and chromium-driver system-wide for the browser tests:"; \
	    echo "make:   apt-get update && apt-get install -y chromium chromium-driver"; \
	    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "make: chromium missing: install Debian's chromium (apt-get install chromium chromium-driver); browser tests will be skipped"; fi; }

# The main job: the Panel app on http://127.0.0.1:5006 (CPU, no data download).
run: $(STAMP)
	$(PY) -m workbench.cli serve

# Every model on a calibrated 1 kHz tone: stage shapes and ms per second of audio.
demo: $(STAMP)
	$(PY) -m workbench.cli demo

# Lint and format check (ruff), then unit, reference and browser tests, the doctests of the
# library and every notebook (nbval, lax: outputs not compared).
test: setup lint
	$(PY) -m pytest -q --nbval-lax --nbval-cell-timeout=300 tests notebooks
	$(PY) -m pytest -q --doctest-modules workbench

lint: $(STAMP)
	$(PY) -m ruff check workbench tests benchmarks scripts docs
	$(PY) -m ruff format --check workbench tests benchmarks scripts docs

bench: $(STAMP)
	$(PY) benchmarks/models.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
