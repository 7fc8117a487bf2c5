# Two commands do everything on a fresh machine:
#   make book   -- full settings: executes every chapter, builds the HTML book in _build/html
#   make test   -- unit tests, every notebook under nbval in fast mode, the fast book with -W
# Override the PyTorch wheel for a GPU: make test TORCH_SPEC=torch==2.13.0 TORCH_INDEX=--index-url=<cuda wheel index>

PYTHON        ?= python3
VENV          ?= .venv
BIN           := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
TORCH_SPEC    ?= torch==$(TORCH_VERSION)
TORCH_INDEX   ?=
EXTRAS        ?= book,test,lab
STAMP         := $(VENV)/.installed-$(EXTRAS)
CHAPTERS      := $(sort $(wildcard book/[0-9]*.md))
NOTEBOOKS     := $(patsubst book/%.md,notebooks/%.ipynb,$(CHAPTERS))
JOBS          ?= 2

export PYTHONHASHSEED := 0

.PHONY: help install book book-fast book-student test unit nbval notebooks lab benchmarks clean

help:
	@echo "make book     executes every chapter (full settings) and builds _build/html"
	@echo "make test     unit tests + nbval (fast mode) + fast book build with -W"
	@echo "make lab      JupyterLab on the chapters"
	@echo "make notebooks  writes the paired notebooks/*.ipynb"
	@echo "make benchmarks runs benchmarks/ and rewrites benchmarks/RESULTS.md"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP)

notebooks: $(STAMP)
	$(BIN)/jupytext --sync $(CHAPTERS)

book: $(STAMP)
	$(BIN)/jupyter-book build . --toc book/_toc.yml --config _config.yml -W --keep-going
	@echo "Open file://$(CURDIR)/_build/html/index.html"

book-fast: $(STAMP)
	COURSE_FAST=1 $(BIN)/jupyter-book build . --toc book/_toc.yml --config _config.yml -W --keep-going

unit: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(JOBS) tests

nbval: notebooks
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(JOBS) --dist loadfile --nbval-lax -p no:cacheprovider $(NOTEBOOKS)

test: unit nbval book-fast

lab: notebooks $(STAMP)
	JUPYTER_CONFIG_DIR=$(CURDIR)/.jupyter $(BIN)/jupytext-config set-default-viewer
	JUPYTER_CONFIG_DIR=$(CURDIR)/.jupyter $(BIN)/jupyter lab --notebook-dir=$(CURDIR) \
		--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate book/

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_convolution.py

clean:
	rm -rf _build notebooks .pytest_cache
