# Two commands do everything on a fresh machine:
#   make book   -- full settings: executes every chapter, builds the HTML book in _build/html
#   make test   -- lint, unit tests, every notebook under nbval in fast mode, the student notebooks,
#                  the fast book with -W (in _build/fast/html) and checks of what it shows
# Override the PyTorch wheel for a GPU: make test TORCH_SPEC=torch==2.13.0 TORCH_INDEX=--index-url=<cuda wheel index>

PYTHON        ?= python3
VENV          ?= .venv
BIN           := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
TORCH_SPEC    ?= torch==$(TORCH_VERSION)
TORCH_INDEX   ?=
EXTRAS        ?= book,test,lab,grade
STAMP         := $(VENV)/.installed-$(EXTRAS)
CHAPTERS      := $(sort $(wildcard book/[0-9]*.md))
NOTEBOOKS     := $(patsubst book/%.md,notebooks/%.ipynb,$(CHAPTERS))
JOBS          ?= 2

export PYTHONHASHSEED := 0

.PHONY: help install book book-fast book-student student-notebooks assignments grade grade-check test robust lint unit nbval student-check book-check notebooks lab browser browser-student benchmarks clean

help:
	@echo "make book     executes every chapter (full settings) and builds _build/html"
	@echo "make test     lint + unit tests + nbval (fast mode) + student notebooks + fast book with -W"
	@echo "make robust   every chapter under nbval again on other draws and another rounding path"
	@echo "make lab      JupyterLab on the chapters"
	@echo "make book-student  the book without solutions, in _build/student/html"
	@echo "make student-notebooks  the chapters without solutions, to hand out: _build/student/notebooks"
	@echo "make assignments  each chapter as an nbgrader assignment: _build/course/source and release"
	@echo "make grade SUBMISSIONS=DIR  autogrades DIR/<learner>/NN_*.ipynb with nbgrader: _build/course/grades.csv"
	@echo "make grade-check  grades a small test class of chapter 2 and checks every row (tests/test_grading.py)"
	@echo "make browser  headless-Chromium checks of _build/html and of every chapter in JupyterLab"
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

# The fast book has its own build folder: Sphinx re-uses cached pages when no source changed, so a
# shared folder would serve fast-mode results as the full book (tests/test_book_built.py checks).
FAST_BUILD := _build/fast
book-fast: $(STAMP)
	COURSE_FAST=1 $(BIN)/jupyter-book build . --toc book/_toc.yml --config _config.yml \
		--path-output $(FAST_BUILD) -W --keep-going
	rm -rf $(FAST_BUILD)/html && mv $(FAST_BUILD)/_build/html $(FAST_BUILD)/html
	@echo "Open file://$(CURDIR)/$(FAST_BUILD)/html/index.html"

# The student edition: every cell tagged `solution` removed (tools/student_edition.py, nbconvert's
# TagRemovePreprocessor). student-notebooks writes the chapters to hand out, _build/student/notebooks;
# book-student builds the same sources as a book, _build/student/html, without page sources.
# STUDENT_ARGS=--no-execute skips execution (CI: checks the edition, not the chapters again).
STUDENT := _build/student
STUDENT_ARGS ?=
student-notebooks: $(STAMP)
	$(BIN)/python tools/student_edition.py $(STUDENT) $(STUDENT_ARGS)

book-student: student-notebooks
	$(BIN)/jupyter-book build $(STUDENT)/src --toc $(CURDIR)/$(STUDENT)/src/book/_toc.yml \
		--config $(CURDIR)/$(STUDENT)/src/_config.yml \
		--path-output $(STUDENT) -W --keep-going
	rm -rf $(STUDENT)/html && mv $(STUDENT)/_build/html $(STUDENT)/html
	@echo "Open file://$(CURDIR)/$(STUDENT)/html/index.html"

# Grading with nbgrader (tools/assignments.py, tools/grade.py): the course folder is _build/course.
# make grade SUBMISSIONS=DIR: DIR holds one folder per learner with their notebooks; autograde runs in
# fast and grading mode, GRADE_TIMEOUT seconds per cell, JOBS learners at a time; feedback HTML in
# _build/course/feedback, the gradebook in _build/course/grades.csv.
GRADE_TIMEOUT ?= 120
assignments: $(STAMP)
	$(BIN)/python tools/assignments.py

grade: assignments
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=DIR (one folder per learner)"; exit 2; }
	OMP_NUM_THREADS=1 $(BIN)/python tools/grade.py "$(SUBMISSIONS)" --timeout $(GRADE_TIMEOUT) --jobs $(JOBS)

# A class of seven learners on chapter 2 (untouched, solved, wrong, raising, looping, corrupted,
# erased), graded and checked row by row; about two minutes on 2 cores.
grade-check: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m grading -p no:cacheprovider tests/test_grading.py

unit: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(JOBS) tests

nbval: notebooks
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(JOBS) --dist loadfile --nbval-lax -p no:cacheprovider $(NOTEBOOKS)

# The claims are not the luck of one draw or one CPU: the chapters again, fast mode, with every draw
# moved (COURSE_SEED=1), PyTorch's portable kernels instead of AVX2/AVX-512 and MKL's reproducible code
# path. Any other combination runs the same way, e.g. `ATEN_CPU_CAPABILITY=avx2 make nbval`.
# ROBUST_CHAPTERS lists the chapters whose asserted claims hold on other draws: all of them.
ROBUST_ENV ?= COURSE_SEED=1 ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE
ROBUST_CHAPTERS ?= 01 02 03 04 05
robust: notebooks
	$(ROBUST_ENV) COURSE_FAST=1 OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(JOBS) --dist loadfile --nbval-lax \
		-p no:cacheprovider $(foreach c,$(ROBUST_CHAPTERS),$(wildcard notebooks/$(c)_*.ipynb))

# The student notebooks run top to bottom in fast mode, raise nothing, and every exercise says
# "not attempted yet" (tests/test_student_notebooks.py).
student-check: student-notebooks
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(JOBS) -m notebooks -p no:cacheprovider \
		tests/test_student_notebooks.py

# What the fast book shows: every solution executed and its check passed, and the mode it was built in.
book-check: $(STAMP)
	$(BIN)/pytest -q -m built -p no:cacheprovider tests/test_book_built.py

# ruff over the library and over the chapters' code cells (as generated notebooks): the chapters' line
# length is the book's code column (pyproject.toml, [tool.ruff]).
lint: notebooks
	$(BIN)/ruff check course_lib tests tools benchmarks notebooks

test: lint unit nbval student-check book-fast book-check

# JupyterLab on the chapters: book/*.md open as notebooks through jupytext (pairs in notebooks/),
# MyST directives render (jupyterlab-myst); no news or update pop-ups. Settings live in .jupyter/.
# COURSE_FAST=1 make lab gives the quick settings; LAB_ARGS="--port=8899" passes options through.
LAB_ARGS ?=
lab: notebooks $(STAMP)
	JUPYTER_CONFIG_DIR=$(CURDIR)/.jupyter $(BIN)/python tools/lab_settings.py
	JUPYTER_CONFIG_DIR=$(CURDIR)/.jupyter $(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) \
		--LabApp.default_url=/lab/tree/book --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Browser checks (pytest -m browser, Playwright driving Debian's /usr/bin/chromium or $CHROMIUM): every
# page of the built book (the fast one by default; BOOK_HTML=_build/html for the full one), at 1280 and
# 800 px, then every chapter run in JupyterLab with its widget's redraw timed
# (-> _build/widget_times.json); screenshots in _build/screenshots/.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
BOOK_HTML ?= $(FAST_BUILD)/html
export BOOK_HTML
browser: $(STAMP)
	@test -f $(BOOK_HTML)/index.html || { echo "no book in $(BOOK_HTML): run make book-fast first"; exit 1; }
	@test -x "$(CHROMIUM)" || { echo "no browser at $(CHROMIUM): apt-get install -y chromium"; exit 1; }
	rm -f _build/widget_times.json
	$(BIN)/pytest -m browser -p no:cacheprovider -v -rs tests/browser
	@cat _build/widget_times.json

browser-student: $(STAMP)
	@test -f $(STUDENT)/html/index.html || { echo "no student edition: run make book-student first"; exit 1; }
	BOOK_HTML=$(STUDENT)/html $(BIN)/pytest -m browser -p no:cacheprovider -v -rs tests/browser/test_browser_book.py

# CHAPTER_MODES="fast full" also times every chapter with the full settings (about 40 min on 2 cores).
CHAPTER_MODES ?= fast
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_convolution.py
	$(BIN)/python benchmarks/bench_dps.py
	$(BIN)/python benchmarks/bench_chapters.py --mode $(CHAPTER_MODES)

clean:
	rm -rf _build notebooks .pytest_cache
