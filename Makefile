# Two commands for a newcomer: `make lab` (start the course) and `make test` (run every test).
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# nbgrader runs helper programs (alembic) by name: the venv's bin must come first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
LAB_ARGS ?=
# Jupyter refuses to run as root unless told (containers and CI machines run as root).
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

.PHONY: lab instructor test test-fast lint release selfcheck benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The exact pins Binder builds (environment.yml's pip section), then the course package itself:
# every fresh install here proves that section installs without conda.
$(VENV)/.installed: pyproject.toml environment.yml tools/pip_section.py | $(BIN)/python
	$(BIN)/python tools/pip_section.py environment.yml > $(VENV)/requirements-binder.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-binder.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# A student's JupyterLab has nbgrader's student tools only (Assignments tab, Validate): the config folder
# tools/jupyter-student turns off the formgrader, the course list and the create-assignment panel.
STUDENT_CONFIG := JUPYTER_CONFIG_PATH=$(abspath tools/jupyter-student)$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))

## lab: open the course (the student notebooks in release/) in JupyterLab, as a student
lab: $(VENV)/.installed
	$(STUDENT_CONFIG) $(BIN)/jupyter lab --ServerApp.root_dir=release $(AS_ROOT) $(LAB_ARGS)

## instructor: JupyterLab on the course directory with nbgrader's instructor tools (formgrader, create assignment)
instructor: $(VENV)/.installed
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(AS_ROOT) $(LAB_ARGS)

## test: lint and run the whole test suite (unit tests, notebooks, autograding)
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-fast: the unit tests only (no notebook execution or autograding)
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not notebooks" $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

## release: regenerate release/ from source/ with nbgrader (commit the result). The gradebook learns the
## changes as nbgrader does mid-term (cell texts and points; grades and written scores stay), after a dated
## copy goes to backups/. DB_URL=postgresql://... names a gradebook other than nbgrader_config.py's.
DB_URL ?=
release: $(VENV)/.installed
	$(BIN)/python -m autograder.nbgrader.backup $(if $(DB_URL),--db-url "$(DB_URL)")
	for dir in source/*/; do \
		$(BIN)/nbgrader generate_assignment "$$(basename $$dir)" --force \
			$(if $(DB_URL),--CourseDirectory.db_url="$(DB_URL)") || exit 1; \
	done

## selfcheck: the solution earns full marks and the blank release zero
selfcheck: $(VENV)/.installed
	$(BIN)/python -m autograder selfcheck

## benchmark: wall time and peak memory of each solution notebook, and of selfcheck; import CPU time
benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/notebooks.py
	$(BIN)/python benchmarks/imports.py

clean:
	rm -rf submitted autograded feedback gradebook.db .pytest_cache
