# The README's two commands: `make demo` (set up + run the main job) and `make test` (set up + run the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LINT_PATHS := src tests benchmarks

.PHONY: setup browser demo test test-wheel clean

$(VENV)/.installed: pyproject.toml
	@echo "setup: creating $(VENV) (Python venv)"
	$(PYTHON) -m venv $(VENV)
	@echo "setup: installing pip, then CPU PyTorch (torch==2.13.0, ~200 MB; from the local wheel cache when there is one)"
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	@echo "setup: installing synthboost (editable) with its dependencies and the dev + app extras (pytest, ruff, nbclient, Gradio, ...)"
	$(PY) -m pip install -q -e ".[dev,app]"
	touch $@

setup: $(VENV)/.installed

# Headless Chromium + driver for the browser test (Debian packages; installed when running as root).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "browser: installing Debian's chromium and chromium-driver for the browser test (apt-get, a minute or two)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium/chromedriver missing and not root: the browser test will be skipped (fails under CI)"; fi; \
	fi

demo: setup
	$(VENV)/bin/synthboost demo --out demo_out

test: setup browser
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory test-wheel
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

# The slow wheel test: build the wheel, install it with CPU torch into a fresh venv, run the quick demo elsewhere.
test-wheel: setup
	@echo "test-wheel: building the wheel and installing it into a fresh venv (several minutes)"
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m slow tests/test_wheel.py

clean:
	rm -rf $(VENV) demo_out
