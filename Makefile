# Two commands on a fresh machine (see README):
#   make lab   - create .venv if missing, install, start JupyterLab on notebooks/
#   make test  - create .venv if missing, run pytest (browser tests included) and every notebook
#                (nbval, fast mode)
#   make editions [OUT=build/editions] - the student and instructor editions of the notebooks
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned and installed first: on the course machines 2.13.0 is a local CPU
# wheel; an unpinned torch would pull several GB of CUDA libraries.
TORCH  ?= torch==2.13.0
PYTEST_FLAGS ?=
NOTEBOOKS ?= notebooks/
FASTENV := GENTOOLKIT_FAST=1 MPLBACKEND=Agg

.PHONY: lab test nbval editions venv lint format clean

venv: $(STAMP)

# Re-installs only when pyproject.toml changes; a second `make test` re-uses .venv.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# JupyterLab refuses to run as root unless told; containers and course VMs often are root.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

# tests/ includes the browser tests (tests/browser: every notebook in JupyterLab in Chromium);
# .ci/ensure-chromium installs Debian's chromium when root, else they skip (CI=true: they fail).
test: $(STAMP)
	bash .ci/ensure-chromium
	$(FASTENV) $(BIN)/python -m pytest tests/ $(PYTEST_FLAGS)
	$(MAKE) --no-print-directory nbval

# Every notebook, top to bottom, in fast mode: fails when any cell raises. (--nbval-lax:
# outputs are not compared, since training curves differ run to run.)
nbval: $(STAMP)
	$(FASTENV) $(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider $(NOTEBOOKS) $(PYTEST_FLAGS)

# The course's editions (gentoolkit/editions.py): OUT/student/ (solutions blanked, outputs cleared)
# and OUT/instructor/ (the notebooks as they are); lists every notebook's exercises.
OUT = build/editions
editions: $(STAMP)
	$(BIN)/python -m gentoolkit.editions build $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
