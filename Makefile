# One entry point. On a fresh machine with Python 3.11 and make:
#   make lab    set up .venv if needed, open JupyterLab on the course
#   make test   set up .venv if needed, run lint + the whole test suite
# Everything else is for the people who change or teach the course.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?=
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help lab test test-cpus lint format outputs sync assets student lab-student slides slides-pdf html bench clean

help:
	@echo "make lab | test | test-cpus | outputs [NB=03] | assets | student | lab-student | slides | slides-pdf [STUDENT=1] | html [STUDENT=1] | bench | clean"

# The environment: exact versions from requirements.lock, the course package editable.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_ARG) $(LAB_ARGS)

test: $(STAMP) lint
	$(BIN)/python -m pytest

# nbval over every notebook as other machines compute it: other OpenBLAS kernels,
# numpy SIMD levels and thread counts (the stored outputs must not depend on them).
test-cpus: $(STAMP)
	$(BIN)/python scripts/cpu_variants.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-execute notebooks (all, or NB=03) from their .py sources; store clean outputs.
outputs: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py $(NB)

# Bring .py sources and .ipynb notebooks in step after editing either one.
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.ipynb

assets: $(STAMP)
	$(BIN)/python scripts/make_assets.py

# The exercise versions (nbgrader release: solutions out, hidden tests out) in release/.
# A notebook you have edited there is kept; scripts/release.py --force replaces it.
student: $(STAMP)
	$(BIN)/python scripts/release.py

# JupyterLab on the exercise versions.
lab-student: student
	$(BIN)/jupyter lab $(ROOT_ARG) $(LAB_ARGS) --ServerApp.root_dir=release

# Slides (build/slides/), their PDFs (build/slides-pdf/) and the course site (build/html/),
# from the stored notebooks; STUDENT=1: from the exercise versions, into build/student/.
SITE_ARGS := $(if $(STUDENT),--student)
SITE_DEPS := $(STAMP) $(if $(STUDENT),student)

slides: $(SITE_DEPS)
	$(BIN)/python scripts/build_site.py slides $(SITE_ARGS)

slides-pdf: $(SITE_DEPS)
	$(BIN)/python scripts/build_site.py pdf $(SITE_ARGS)

html: $(SITE_DEPS)
	$(BIN)/python scripts/build_site.py html $(SITE_ARGS)

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf build  # release/ holds learners' work: delete it by hand
